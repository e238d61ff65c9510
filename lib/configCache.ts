// A cache of compiled casa.config.ts bundles: bundling with esbuild costs about a third of a
// second, paid on every command otherwise. An entry is reused only while every file that
// went into the bundle has the same content (a hash, not the modification time: two edits
// within one timer tick keep the same mtime); the cache is best effort, so any trouble
// reading or writing it just means bundling again.
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { userCacheDir } from './paths.js'

interface InputStamp {
  path: string
  sha256: string
}

interface CacheEntry {
  inputs: InputStamp[]
  code: string
}

function cacheDir(): string {
  return join(userCacheDir(), 'config')
}

/** One entry per config file and per installed tool (the bundle points into the tool's dist/). */
function entryPath(configFile: string, toolRoot: string): string {
  const key = createHash('sha256').update(`${toolRoot}\0${configFile}`).digest('hex').slice(0, 32)
  return join(cacheDir(), `${key}.json`)
}

function stamp(path: string): InputStamp {
  return { path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex') }
}

/** The cached bundle of configFile, or undefined when missing or stale. */
export function readCachedBundle(configFile: string, toolRoot: string): string | undefined {
  try {
    const entry = JSON.parse(readFileSync(entryPath(configFile, toolRoot), 'utf8')) as CacheEntry
    const unchanged = entry.inputs.every((input) => stamp(input.path).sha256 === input.sha256)
    return unchanged ? entry.code : undefined
  } catch {
    return undefined
  }
}

export function writeCachedBundle(configFile: string, toolRoot: string, inputs: readonly string[], code: string): void {
  const path = entryPath(configFile, toolRoot)
  const temp = `${path}.${process.pid}.tmp`
  try {
    mkdirSync(cacheDir(), { recursive: true })
    const entry: CacheEntry = { inputs: inputs.map(stamp), code }
    writeFileSync(temp, JSON.stringify(entry))
    renameSync(temp, path)
  } catch {
    // A read-only or full home: the next run bundles again.
  }
}
