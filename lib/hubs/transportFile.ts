// file:// hubs: a local or mounted directory (a web server's document root on a shared file
// system). Same guarantees as sftp: temporary name in the same directory, then rename(2).
import { createHash } from 'node:crypto'
import { createReadStream, createWriteStream, lstatSync, statSync } from 'node:fs'
import { chmod, copyFile, lstat, mkdir, readdir, readFile, readlink, rename, rm, rmdir, symlink, unlink, utimes, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { UserError, cannotRead, errorMessage } from '../util/errors.js'
import { onInterrupt } from '../util/interrupt.js'
import { madeDirectoriesAround, temporaryName, type Hub, type HubEntry, type PutOptions } from './hub.js'
import { printable } from '../util/ui.js'

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException)?.code === 'ENOENT'

/**
 * When the nearest existing path above `path` (itself included) is no directory: why, as
 * `<path> is a file where a directory is expected` (or a link to a file, or to nothing). A link
 * to a directory is followed, like any directory of the path.
 */
function notADirectoryOnTheWay(path: string): string | undefined {
  for (let dir = path; dir !== dirname(dir); dir = dirname(dir)) {
    let found
    try {
      found = lstatSync(dir, { throwIfNoEntry: false })
    } catch {
      continue // ENOTDIR: the file is higher up
    }
    if (!found) continue
    let what: string | undefined
    if (found.isSymbolicLink()) {
      const target = statSync(dir, { throwIfNoEntry: false })
      what = !target ? 'a link to nothing' : target.isDirectory() ? undefined : 'a link to a file'
    } else if (!found.isDirectory()) what = 'a file'
    return what && `${printable(dir)} is ${what} where a directory is expected`
  }
  return undefined
}

export async function openFileHub(url: string, root: string): Promise<Hub> {
  const at = (path: string) => join(root, path)
  /** The directories this hub created (not those it found): a failed run removes the empty ones. */
  const createdDirs = new Set<string>()
  /** mkdir -p, remembering what it made: fs.mkdir answers the first directory it had to create. */
  async function makeDirectories(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true }).catch(async (error) => Promise.reject(await whyNotMade(dir, error)))
    if (first === undefined) return
    for (let made = dir.replace(/(.)\/+$/, '$1'); made.length >= first.length; made = dirname(made)) createdDirs.add(made)
  }
  /**
   * Node's recursive mkdir answers ENOENT when the file system refuses a directory (EROFS, EACCES
   * as a user, EDQUOT): the first missing directory is made again alone to learn why, and named.
   * Error path only; a file or a bad link on the way is left to fail() to name.
   */
  async function whyNotMade(dir: string, error: unknown): Promise<unknown> {
    if (!isMissing(error) || notADirectoryOnTheWay(dir)) return error
    let missing = dir
    while (dirname(missing) !== missing && !lstatSync(dirname(missing), { throwIfNoEntry: false })) missing = dirname(missing)
    const reason = await mkdir(missing).then(
      () => void createdDirs.add(missing), // made this time (a race): ours to clean, the first error stands
      (refused: unknown) => refused,
    )
    return reason ? new UserError(printable(`cannot create directory ${missing}: ${errorMessage(reason)}`)) : error
  }
  const fail = (what: string, path: string, error: unknown) => {
    const code = (error as NodeJS.ErrnoException)?.code
    // a file (or a link to one, or to nothing) where a directory of the path is expected:
    // name it, not the errno of the write under it
    const blocker = code === 'ENOTDIR' || code === 'EEXIST' || code === 'ENOENT' ? notADirectoryOnTheWay(at(path)) : undefined
    // control characters escaped, in the path and in Node's message that repeats it
    return new UserError(blocker ?? printable(`${what} ${at(path)}: ${errorMessage(error)}`))
  }

  /** Write through `write(tempFile)`, then rename onto `path`; the temporary file never survives. */
  async function atomically(path: string, write: (temp: string) => Promise<void>): Promise<void> {
    const temp = temporaryName(at(path))
    const forget = onInterrupt(() => rm(temp, { force: true }))
    try {
      await makeDirectories(dirname(temp))
      await write(temp)
      await rename(temp, at(path))
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined)
      throw error instanceof UserError ? error : fail('cannot write', path, error)
    } finally {
      forget()
    }
  }

  async function walk(dir: string, prefix: string, recursive: boolean, out: HubEntry[]): Promise<void> {
    let names: string[]
    try {
      names = await readdir(dir)
    } catch (error) {
      if (!isMissing(error) && (error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error
      // an absent directory lists as empty, but a file or a bad link on its way is an error
      // a dry run must show too
      const blocker = prefix === '' ? notADirectoryOnTheWay(dir) : undefined
      if (blocker) throw new UserError(blocker)
      return
    }
    for (const name of names.sort()) {
      const stat = await lstat(join(dir, name))
      const type = stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : stat.isSymbolicLink() ? 'symlink' : 'other'
      out.push({ path: prefix + name, size: stat.size, mtime: Math.floor(stat.mtimeMs / 1000), type })
      if (recursive && type === 'dir') await walk(join(dir, name), `${prefix}${name}/`, true, out)
    }
  }

  return {
    url,
    async put(localFile: string, remotePath: string, options: PutOptions = {}) {
      await atomically(remotePath, async (temp) => {
        const { size } = await lstat(localFile).catch((error) => {
          throw cannotRead(localFile, error)
        })
        let done = 0
        let readError: unknown
        const source = createReadStream(localFile)
        source.on('data', (chunk) => {
          done += chunk.length
          options.onProgress?.(done, size)
        })
        source.on('error', (error) => (readError = error))
        await pipeline(source, createWriteStream(temp, { mode: options.mode ?? 0o644 })).catch((error) => {
          // a local file we cannot read is not the hub's fault
          throw readError ? cannotRead(localFile, readError) : error
        })
        await chmod(temp, options.mode ?? 0o644)
        if (options.mtime !== undefined) await utimes(temp, options.mtime, options.mtime)
      })
    },
    async putText(text, remotePath) {
      await atomically(remotePath, (temp) => writeFile(temp, text, { mode: 0o644 }))
    },
    async createNew(text, remotePath) {
      try {
        await makeDirectories(dirname(at(remotePath)))
        await writeFile(at(remotePath), text, { flag: 'wx', mode: 0o644 })
        return true
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
        throw error instanceof UserError ? error : fail('cannot create', remotePath, error)
      }
    },
    async readText(remotePath) {
      try {
        return await readFile(at(remotePath), 'utf8')
      } catch (error) {
        if (isMissing(error)) return undefined
        throw fail('cannot read', remotePath, error)
      }
    },
    async link(target, linkPath) {
      try {
        await atomically(linkPath, (temp) => symlink(target, temp))
        return 'symlink'
      } catch {
        // a file system without links (some network mounts): a copy renamed into place
        await atomically(linkPath, (temp) => copyFile(join(dirname(at(linkPath)), target), temp))
        return 'copy'
      }
    },
    async readLink(path) {
      return readlink(at(path)).catch(() => undefined)
    },
    async list(dir, options = {}) {
      const out: HubEntry[] = []
      try {
        await walk(at(dir), '', options.recursive ?? false, out)
      } catch (error) {
        throw error instanceof UserError ? error : fail('cannot list', dir, error)
      }
      return out
    },
    async remove(path) {
      try {
        const stat = await lstat(at(path))
        if (stat.isDirectory()) await rmdir(at(path))
        else await unlink(at(path))
      } catch (error) {
        if (!isMissing(error)) throw fail('cannot remove', path, error)
      }
    },
    async mkdirp(dir) {
      try {
        await makeDirectories(at(dir))
      } catch (error) {
        throw error instanceof UserError ? error : fail('cannot create directory', dir, error)
      }
    },
    async removeEmptyDirectoriesMade(dir) {
      for (const made of madeDirectoriesAround(createdDirs, at(dir))) {
        // rmdir(2) refuses a directory that is not empty: it stays, with its parents
        if (await rmdir(made).then(() => true, () => false)) createdDirs.delete(made)
      }
    },
    async sha256(paths) {
      return Promise.all(
        paths.map(async (path) => {
          try {
            const hash = createHash('sha256')
            await pipeline(createReadStream(at(path)), hash)
            return hash.digest('hex')
          } catch (error) {
            if (isMissing(error)) return undefined
            throw fail('cannot read', path, error)
          }
        }),
      )
    },
    // a local directory has no connection to lose: each failure is that of one request
    lost: () => false,
    async close() {},
  }
}
