// Best-effort cache files, shared by the caches of compiled configs, image definitions and
// component versions: JSON written under a temporary name and renamed into place, read back as
// undefined when absent or damaged. Any trouble with a cache only means doing the work again,
// so nothing here throws.
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { home } from './paths.js'
import { removeDeadLeftovers } from './leftovers.js'
import { ui } from './ui.js'

/** The parsed content of `file`, or undefined when it is absent or not JSON. */
export function readCacheFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'))
  } catch {
    return undefined
  }
}

let toldNoHome = false

/**
 * Write `data` as JSON to `file` atomically; false when it could not be written (read-only or
 * full). A HOME that does not exist (a service account, HOME=/nonexistent) is not created for a
 * cache: the run goes on without caches, and says so with -v.
 */
export function writeCacheFile(file: string, data: unknown): boolean {
  const userHome = home()
  if (file.startsWith(`${userHome.replace(/\/+$/, '')}/`) && !existsSync(userHome)) {
    if (!toldNoHome) ui.debug(`HOME ${userHome} does not exist: running without caches`)
    toldNoHome = true
    return false
  }
  const temporary = `${file}.tmp-${process.pid}`
  try {
    // Caches may hold what the config holds (a compiled casa.config.ts keeps its tokens): the
    // user's alone, 0600 files in a 0700 directory, whatever the umask or an older version made.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 })
    try {
      chmodSync(dirname(file), 0o700)
    } catch {
      // not ours to change (a shared XDG_CACHE_HOME): the files themselves are 0600
    }
    removeDeadLeftovers(file) // a killed run's temporary of this cache file
    writeFileSync(temporary, JSON.stringify(data), { mode: 0o600 })
    renameSync(temporary, file)
    return true
  } catch {
    try {
      rmSync(temporary, { force: true })
    } catch {
      // ENOTDIR when the cache directory is a file: there is nothing to remove then
    }
    return false
  }
}

const stamps = new Map<string, string | undefined>()

/**
 * A digest of the code of the module at `moduleUrl`, to stamp answers that code computed: a
 * changed rule never reuses an old answer. Undefined (do not cache) when it cannot be read.
 */
export function codeStamp(moduleUrl: string | URL): string | undefined {
  const key = String(moduleUrl)
  if (!stamps.has(key)) {
    try {
      stamps.set(key, createHash('sha256').update(readFileSync(fileURLToPath(moduleUrl))).digest('hex'))
    } catch {
      stamps.set(key, undefined)
    }
  }
  return stamps.get(key)
}
