// The demo's working directory: a copy of examples/workflow as the workflow repository (with
// Debian's busybox added to the base image's definition), the services' state, and the ports
// they listened on last time, reused so that published names stay the same between runs.
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { freePort, isPortFree } from '../test/helpers/net.js'

export interface DemoPorts {
  registry: number
  ssh: number
  http: number
}

/** Copies what differs from `source` into `target`, so unchanged files keep their dates (and images stay up to date). */
export function syncTree(source: string, target: string): number {
  let copied = 0
  for (const entry of readdirSync(source, { withFileTypes: true })) {
    const from = join(source, entry.name)
    const to = join(target, entry.name)
    if (entry.isDirectory()) {
      copied += syncTree(from, to)
    } else if (entry.isFile() && !sameContent(from, to)) {
      mkdirSync(dirname(to), { recursive: true })
      copyFileSync(from, to)
      chmodSync(to, statSync(from).mode & 0o777)
      copied++
    }
  }
  return copied
}

function sameContent(a: string, b: string): boolean {
  return existsSync(b) && statSync(a).size === statSync(b).size && readFileSync(a).equals(readFileSync(b))
}

/** The workflow repository of the demo, made or refreshed from examples/workflow. */
export function prepareRepository(examplesWorkflow: string, repository: string): void {
  syncTree(examplesWorkflow, repository)
  const busybox = join(repository, 'share', 'docker', 'demo-base', 'busybox', 'busybox')
  if (!existsSync('/bin/busybox')) throw new Error('/bin/busybox is missing (install the busybox-static package)')
  if (!sameContent('/bin/busybox', busybox)) copyFileSync('/bin/busybox', busybox)
}

/** The ports of the last run when they are still free, new ones otherwise. */
export async function demoPorts(stateFile: string): Promise<DemoPorts> {
  let last: Partial<DemoPorts> = {}
  try {
    last = JSON.parse(readFileSync(stateFile, 'utf8')) as Partial<DemoPorts>
  } catch {
    // first run
  }
  const pick = async (port: number | undefined) => (port && (await isPortFree(port)) ? port : freePort())
  const ports = { registry: await pick(last.registry), ssh: await pick(last.ssh), http: await pick(last.http) }
  writeFileSync(stateFile, `${JSON.stringify(ports, null, 2)}\n`)
  return ports
}

/** Files under `dir`, relative, for the final report. */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return []
  const files: string[] = []
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const path = join(current, entry.name)
      if (entry.isDirectory()) walk(path)
      else files.push(relative(dir, path))
    }
  }
  walk(dir)
  return files.sort()
}
