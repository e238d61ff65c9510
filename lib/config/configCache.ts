// A cache of compiled casa.config.ts bundles: bundling with esbuild costs about a third of a
// second, paid on every command otherwise. An entry is reused only while every file that
// went into the bundle has the same content (a hash, not the modification time: two edits
// within one timer tick keep the same mtime); the cache is best effort, so any trouble
// reading or writing it just means bundling again.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { readCacheFile, writeCacheFile } from '../util/cacheFile.js'
import { userCacheDir } from '../util/paths.js'

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

/** The cached bundle of configFile, or undefined when missing or stale. */
export function readCachedBundle(configFile: string, toolRoot: string): string | undefined {
  const entry = readCacheFile(entryPath(configFile, toolRoot)) as CacheEntry | undefined
  try {
    return entry && entry.inputs.every((input) => stamp(input.path).sha256 === input.sha256) ? entry.code : undefined
  } catch {
    return undefined // an input gone or unreadable: bundle again
  }
}

export function writeCachedBundle(configFile: string, toolRoot: string, inputs: readonly string[], code: string): void {
  try {
    writeCacheFile(entryPath(configFile, toolRoot), { inputs: inputs.map(stamp), code } satisfies CacheEntry)
  } catch {
    // an input unreadable: the next run bundles again
  }
}
