// Mirroring a local directory to a hub directory, as `lftp mirror -R --delete` did for the
// original, but safely: only what changed is uploaded (size and modification time, or sha256
// with `checksum`), each file atomically with its local mtime set on the server (so the next
// run sees it unchanged), all uploads before any deletion (a downloader never finds a
// referenced file missing), and leftovers of interrupted runs removed. The caller holds the
// directory's lock (mirrorLock.ts) while it applies a plan.
import { createHash } from 'node:crypto'
import { accessSync, constants, createReadStream, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { UserError, cannotRead } from '../util/errors.js'
import { mapLimited } from '../util/mapLimited.js'
import { MIRROR_LOCK } from './mirrorLock.js'
import { isTemporaryName, type Hub, type HubEntry } from './transport.js'
import { printable, ui } from '../util/ui.js'

export interface LocalEntry {
  path: string
  size: number
  mtime: number
  type: 'file' | 'dir'
}

export interface MirrorUpload {
  path: string
  size: number
  mtime: number
  reason: 'new' | 'size' | 'mtime' | 'checksum'
}

export interface MirrorPlan {
  localDir: string
  remoteDir: string
  /** Remote directories to create, parents first. */
  directories: string[]
  uploads: MirrorUpload[]
  /** Remote paths to delete, files first, then directories deepest first. */
  deletions: string[]
  /** How many of the deletions, at the end, are directories. */
  directoryDeletions: number
  /** Files already up to date. */
  unchanged: number
}

export interface MirrorResult {
  uploaded: number
  deleted: number
  bytes: number
  unchanged: number
}

export interface MirrorOptions {
  /** Compare sha256 instead of modification times (for files of the same size). */
  checksum?: boolean
  /** The local tree, when its walk was started earlier (while the hub was being opened). */
  local?: Promise<LocalEntry[]>
  /** Uploads at once (default 8). */
  concurrency?: number
  onProgress?: (bytesDone: number, bytesTotal: number, filesDone: number, filesTotal: number) => void
  /**
   * The run's interrupt (Ctrl-C, SIGTERM): once aborted, no upload nor deletion starts (those
   * under way finish), and applyMirror rejects with its reason.
   */
  signal?: AbortSignal
  /**
   * Called once, as the last deletion is sent (not at all when nothing is deleted): what the
   * caller sends then (the lock's check, see Unlock.checkAhead) shares its round trip.
   */
  onLastChange?: () => void
}

/**
 * Every file and directory under `dir` (symlinks followed, like a web server would). Synchronous
 * stat calls on purpose: for thousands of small files they are several times faster than the
 * promise API, whose every call goes through the thread pool. The walk lets the event loop run
 * between directories, so that it can be done while an SSH handshake is under way.
 *
 * A link to a directory that is one of its own ancestors (same device and inode as a directory
 * on the current path) would be followed until the path is too long: it is skipped with a
 * warning. Only directories are checked, against the stat already made, so the walk costs no
 * extra call per file. A dangling link is skipped silently, as before; any other stat error
 * (permissions, a path too long) stops the walk with the path named.
 */
export async function localTree(dir: string, warn: (message: string) => void = defaultWarn): Promise<LocalEntry[]> {
  const out: LocalEntry[] = []
  const top = dir.replace(/(.)\/+$/, '$1')
  const walk = async (path: string, prefix: string, ancestors: string[]) => {
    await new Promise(setImmediate)
    let names
    try {
      names = readdirSync(path).sort()
    } catch (error) {
      throw cannotRead(printable(path), error)
    }
    for (const name of names) {
      // plain concatenation: path.join's normalizing was a tenth of the walk, for names
      // that readdir gives without slashes
      const full = `${path}/${name}`
      let info
      try {
        info = statSync(full)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'ENOENT') continue // dangling link (or removed meanwhile)
        if (code === 'ELOOP') {
          warn(`skipped ${printable(full)}: a chain of links that never ends`)
          continue
        }
        throw cannotRead(printable(full), error)
      }
      const rel = prefix + name
      if (info.isDirectory()) {
        const id = `${info.dev}:${info.ino}`
        if (ancestors.includes(id)) {
          warn(`skipped ${printable(full)}: a link to a directory that contains it (a loop)`)
          continue
        }
        out.push({ path: rel, size: 0, mtime: Math.floor(info.mtimeMs / 1000), type: 'dir' })
        await walk(full, `${rel}/`, [...ancestors, id])
      } else if (info.isFile()) {
        out.push({ path: rel, size: info.size, mtime: Math.floor(info.mtimeMs / 1000), type: 'file' })
      }
    }
  }
  let root
  try {
    root = statSync(top)
  } catch (error) {
    throw cannotRead(printable(dir), error)
  }
  await walk(top, '', [`${root.dev}:${root.ino}`])
  return out
}

const defaultWarn = (message: string) => ui.warn(message)

async function localSha256(file: string): Promise<string> {
  const hash = createHash('sha256')
  await pipeline(createReadStream(file), hash).catch((error) => Promise.reject(cannotRead(printable(file), error)))
  return hash.digest('hex')
}

const join2 = (dir: string, path: string) => (dir === '' || dir === '.' ? path : `${dir.replace(/\/+$/, '')}/${path}`)
const depth = (path: string) => path.split('/').length

/** What mirroring `localDir` to `remoteDir` of `hub` would do (nothing is changed). */
export async function planMirror(localDir: string, hub: Hub, remoteDir: string, options: MirrorOptions = {}): Promise<MirrorPlan> {
  // the remote listing goes out first, so the server works while we walk the local tree; the
  // local directories, once known, are those it will most likely find there
  const walking = options.local ?? localTree(localDir)
  const likelyDirectories = walking.then((entries) => entries.filter((e) => e.type === 'dir').map((e) => e.path))
  likelyDirectories.catch(() => undefined) // a hint: the walk's own error is reported below
  const remoteListing = hub.list(remoteDir, { recursive: true, likelyDirectories })
  remoteListing.catch(() => undefined) // awaited below; a local error must not leave it unhandled
  const local = await walking
  const remote = new Map<string, HubEntry>((await remoteListing).map((e) => [e.path, e]))
  // the lock of the run doing this (or of one that will refuse to start), not mirrored content
  remote.delete(MIRROR_LOCK)
  const plan: MirrorPlan = { localDir, remoteDir, directories: [], uploads: [], deletions: [], directoryDeletions: 0, unchanged: 0 }
  const sameSize: LocalEntry[] = []
  for (const entry of local) {
    if (entry.path === MIRROR_LOCK) continue
    const there = remote.get(entry.path)
    if (entry.type === 'dir') {
      if (!there) plan.directories.push(entry.path)
      else if (there.type !== 'dir') throw new UserError(printable(`${hub.url}/${join2(remoteDir, entry.path)} is a ${there.type} where ${join(localDir, entry.path)} is a directory: remove it first`))
      continue
    }
    if (there?.type === 'dir') throw new UserError(printable(`${hub.url}/${join2(remoteDir, entry.path)} is a directory where ${join(localDir, entry.path)} is a file: remove it first`))
    if (!there || there.type !== 'file') plan.uploads.push({ ...entry, reason: 'new' })
    else if (there.size !== entry.size) plan.uploads.push({ ...entry, reason: 'size' })
    else if (options.checksum) sameSize.push(entry)
    else if (there.mtime !== entry.mtime) plan.uploads.push({ ...entry, reason: 'mtime' })
    else plan.unchanged++
  }
  if (sameSize.length > 0) {
    const remoteHashes = await hub.sha256(sameSize.map((e) => join2(remoteDir, e.path)))
    for (const [i, entry] of sameSize.entries()) {
      if (remoteHashes[i] !== (await localSha256(join(localDir, entry.path)))) plan.uploads.push({ ...entry, reason: 'checksum' })
      else plan.unchanged++
    }
  }
  const localPaths = new Set(local.map((e) => e.path))
  const stale = [...remote.values()].filter((e) => !localPaths.has(e.path) || (isTemporaryName(e.path) && e.type === 'file'))
  const staleDirectories = stale
    .filter((e) => e.type === 'dir')
    .map((e) => e.path)
    .sort((a, b) => depth(b) - depth(a))
  // A file we may not read would fail half way through the uploads: refuse before the first.
  // One access(2) per file to upload, none for the unchanged ones (as root it passes anyway,
  // and put() still says `cannot read` then).
  for (const upload of plan.uploads) {
    try {
      accessSync(join(localDir, upload.path), constants.R_OK)
    } catch (error) {
      throw cannotRead(printable(join(localDir, upload.path)), error)
    }
  }
  plan.deletions = [...stale.filter((e) => e.type !== 'dir').map((e) => e.path), ...staleDirectories]
  plan.directoryDeletions = staleDirectories.length
  plan.directories.sort((a, b) => depth(a) - depth(b))
  return plan
}

/** Carry out a plan: directories, then every upload (atomic, mtime kept), then deletions. */
export async function applyMirror(plan: MirrorPlan, hub: Hub, options: MirrorOptions = {}): Promise<MirrorResult> {
  await hub.mkdirp(plan.remoteDir)
  // new directories level by level (the plan lists them parents first), each level at once
  const levels = new Map<number, string[]>()
  for (const dir of plan.directories) {
    const level = levels.get(depth(dir))
    if (level) level.push(dir)
    else levels.set(depth(dir), [dir])
  }
  for (const level of levels.values()) await mapLimited(level, options.concurrency ?? 8, (dir) => hub.mkdirp(join2(plan.remoteDir, dir)))
  const total = plan.uploads.reduce((sum, u) => sum + u.size, 0)
  const inFlight = new Map<string, number>()
  let finishedBytes = 0
  let finishedFiles = 0
  const report = () => {
    let done = finishedBytes
    for (const n of inFlight.values()) done += n
    options.onProgress?.(done, total, finishedFiles, plan.uploads.length)
  }
  // one flag read per file: the interrupt's cleanups take round trips, during which the run
  // went on uploading, then deleting what the user may have stopped it to keep
  const stopIfInterrupted = () => options.signal?.throwIfAborted()
  await mapLimited(plan.uploads, options.concurrency ?? 8, async (upload) => {
    stopIfInterrupted()
    await hub.put(join(plan.localDir, upload.path), join2(plan.remoteDir, upload.path), {
      mtime: upload.mtime,
      onProgress: (done) => {
        inFlight.set(upload.path, done)
        report()
      },
    })
    inFlight.delete(upload.path)
    finishedBytes += upload.size
    finishedFiles++
    report()
  })
  // Files at once (each a round trip to the server), then directories one by one, deepest
  // first: a directory goes once it is empty.
  const firstDirectory = plan.deletions.length - plan.directoryDeletions
  const last = plan.deletions.length - 1
  const remove = async (path: string, index: number) => {
    stopIfInterrupted()
    if (index === last) options.onLastChange?.()
    await hub.remove(join2(plan.remoteDir, path))
  }
  stopIfInterrupted()
  await mapLimited(plan.deletions.slice(0, firstDirectory), options.concurrency ?? 8, remove)
  for (const [i, path] of plan.deletions.slice(firstDirectory).entries()) await remove(path, firstDirectory + i)
  return { uploaded: plan.uploads.length, deleted: plan.deletions.length, bytes: total, unchanged: plan.unchanged }
}
