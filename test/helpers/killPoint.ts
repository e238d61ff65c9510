// A run of the real CLI killed with SIGKILL at a chosen point of its work: the point is an
// event the test watches for (a file appearing or reaching a size, a container appearing, a
// held program reporting that it holds), never a delay. The whole process tree is killed, as
// a power cut or the OOM killer of a cgroup would, and the test waits until every process
// of it is gone before looking at what was left.
import { spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { binPath, projectRoot, type CliResult } from './cli.js'
import { descendants } from './processTree.js'

/** How long a wait may last before the test fails saying what it waited for (a hang, not a slow machine). */
const GIVE_UP_MS = 180_000

export interface StartedRun {
  child: ChildProcess
  /** stdout and stderr so far */
  output(): string
  /** Resolves when the run has ended, however it ended. */
  ended: Promise<CliResult & { signal: NodeJS.Signals | null }>
}

/** Start `casa_distro_admin ...args` without waiting for it. */
export function startCli(args: readonly string[], env: Record<string, string | undefined>): StartedRun {
  const child = spawn(process.execPath, [binPath, ...args], {
    cwd: projectRoot,
    env: { ...process.env, NO_COLOR: '1', CI: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (c) => (stdout += c))
  child.stderr!.on('data', (c) => (stderr += c))
  const ended = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code: code ?? 128, stdout, stderr, signal }))
  })
  return { child, output: () => stdout + stderr, ended }
}

/**
 * Wait until `check` gives a value (polled every 20 ms: the event is a state of the file
 * system or of the engine, which tells no one when it changes). Rejects, with the run's
 * output, if the run ends first: the point was never reached.
 */
export async function waitFor<T>(run: StartedRun, what: string, check: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  let over = false
  void run.ended.then(() => (over = true))
  // not a timing of the test: a bound past which the point will not come, said as such
  const giveUp = Date.now() + GIVE_UP_MS
  for (;;) {
    const value = await check()
    if (value) return value
    if (over) throw new Error(`the run ended before ${what}:\n${run.output()}`)
    if (Date.now() > giveUp) throw new Error(`${what}: not after ${GIVE_UP_MS / 1000} s; the run said:\n${run.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Alive and not a zombie (a zombie is gone for our purpose: it holds nothing). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

/** SIGKILL the run and every process under it, then wait until all are gone. */
export async function killTree(run: StartedRun): Promise<void> {
  const pids = descendants(run.child.pid!)
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {
      // gone already
    }
  }
  const result = await run.ended
  if (result.signal !== 'SIGKILL') throw new Error(`the run ended by itself (exit ${result.code}) before it was killed:\n${result.stdout}${result.stderr}`)
  const giveUp = Date.now() + GIVE_UP_MS
  while (pids.some(alive)) {
    if (Date.now() > giveUp) throw new Error(`processes of the killed run still there after ${GIVE_UP_MS / 1000} s: ${pids.filter(alive).join(' ')}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * A directory to put first on a run's PATH, holding `name`: a shell script standing in front
 * of the real program (`real` is its path), for the tests that hold a run at a point.
 */
export function heldProgram(dir: string, name: string, script: string): string {
  const path = join(dir, name)
  writeFileSync(path, `#!/bin/sh\n${script}\n`)
  chmodSync(path, 0o755)
  return dir
}
