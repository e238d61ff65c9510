// A cache of compiled casa.config.ts bundles: bundling with esbuild costs about a third of a
// second, paid on every command otherwise. An entry is reused only while every file that
// went into the bundle has the same content (a hash, not the modification time: two edits
// within one timer tick keep the same mtime); the cache is best effort, so any trouble
// reading or writing it just means bundling again. An entry also says whether its config,
// a plain object, loaded within the bound before: such a config loads without the watchdog
// thread (configDeadline.ts), 10 ms of every command's start.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { readCacheFile, writeCacheFile } from '../util/cacheFile.js'
import { userCacheDir } from '../util/paths.js'

interface InputStamp {
  path: string
  sha256: string
}

export interface CacheEntry {
  inputs: InputStamp[]
  code: string
  /** The bundle loaded within the bound before, its default export a plain object. */
  proven?: true
}

function cacheDir(): string {
  return join(userCacheDir(), 'config')
}

/** Bumped when the tool's dist/ layout changes, since a bundle holds paths into it. */
const layoutVersion = 2

/** One entry per config file and per installed tool (the bundle points into the tool's dist/). */
function entryPath(configFile: string, toolRoot: string): string {
  const key = createHash('sha256').update(`${layoutVersion}\0${toolRoot}\0${configFile}`).digest('hex').slice(0, 32)
  return join(cacheDir(), `${key}.json`)
}

function stamp(path: string): InputStamp {
  return { path, sha256: createHash('sha256').update(readFileSync(path)).digest('hex') }
}

/**
 * The cached entry of configFile, or undefined when missing or stale. Reading it hashes every
 * input: a caller that needs the entry twice in a run (the config: proven? then its code)
 * reads it once and passes it on.
 */
export function freshEntry(configFile: string, toolRoot: string): CacheEntry | undefined {
  const entry = readCacheFile(entryPath(configFile, toolRoot)) as CacheEntry | undefined
  try {
    return entry && entry.inputs.every((input) => stamp(input.path).sha256 === input.sha256) ? entry : undefined
  } catch {
    return undefined // an input gone or unreadable: bundle again
  }
}

/** The cached bundle of configFile, or undefined when missing or stale. */
export function readCachedBundle(configFile: string, toolRoot: string): string | undefined {
  return freshEntry(configFile, toolRoot)?.code
}

/** Record that the bundle of configFile loaded within the bound, as a plain object (best effort). */
export function markProvenBundle(configFile: string, toolRoot: string): void {
  const entry = freshEntry(configFile, toolRoot)
  if (!entry || entry.proven) return
  try {
    writeCacheFile(entryPath(configFile, toolRoot), { ...entry, proven: true } satisfies CacheEntry)
  } catch {
    // the next run loads it with the watchdog again
  }
}

export function writeCachedBundle(configFile: string, toolRoot: string, inputs: readonly string[], code: string): void {
  try {
    writeCacheFile(entryPath(configFile, toolRoot), { inputs: inputs.map(stamp), code } satisfies CacheEntry)
  } catch {
    // an input unreadable: the next run bundles again
  }
}
