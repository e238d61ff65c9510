// What every hub is: the interface publishing tasks write through, and the names of its
// temporary files. Kept apart from transport.ts (which opens hubs) so that the hub kinds
// import it without importing the module that imports them.
export interface SshOptions {
  /** Private key file; ssh-agent ($SSH_AUTH_SOCK) is used when absent. */
  identityFile?: string
  /** known_hosts file (default ~/.ssh/known_hosts). */
  knownHosts?: string
  /** Run `sha256sum` on the server for checksums instead of downloading files (default true). */
  remoteCommands?: boolean
}

export interface PutOptions {
  onProgress?: (done: number, total: number) => void
  /** Permission bits of the new file (default 0o644). */
  mode?: number
  /** Modification time (seconds since the epoch) given to the remote file before its rename. */
  mtime?: number
  /**
   * The local file's md5: a big upload cut (a lost connection) is continued by the next run
   * where it stopped, in a temporary name derived from the md5, and checked against it before
   * its rename. Where the hub cannot check (no remote commands), it starts again instead.
   */
  resumeMd5?: string
}

export interface HubEntry {
  /** Relative to the listed directory, `/`-separated. */
  path: string
  size: number
  /** Seconds since the epoch (what sftp carries). */
  mtime: number
  type: 'file' | 'dir' | 'symlink' | 'other'
}

export interface ListOptions {
  recursive?: boolean
  /**
   * Subdirectories of `dir` (relative, `/`-separated) that are probably there, e.g. those of
   * the local tree a mirror compares with: a far-away hub may start reading them all at once
   * instead of waiting for each parent's listing. A hint only: the result is the same without
   * it, and what is not a directory on the hub is not listed.
   */
  likelyDirectories?: Promise<readonly string[]>
}

export interface Hub {
  /** The hub URL as the user wrote it (no secret: sftp URLs carry none). */
  readonly url: string
  /** Upload `localFile` to `remotePath` (relative to the hub root) atomically. */
  put(localFile: string, remotePath: string, options?: PutOptions): Promise<void>
  putText(text: string, remotePath: string): Promise<void>
  /**
   * Create `remotePath` holding `text` only if nothing is there (O_EXCL, so of two runs one
   * wins): false, with nothing written, when it exists. Not atomic in content: a reader may
   * find it empty for a moment. For locks.
   */
  createNew(text: string, remotePath: string): Promise<boolean>
  /** The text of a remote file, or undefined when there is none. */
  readText(remotePath: string): Promise<string | undefined>
  /**
   * Make `linkPath` point to `target` (relative to linkPath's directory), replacing it
   * atomically: a symlink where the hub allows one, otherwise a copy renamed into place.
   */
  link(target: string, linkPath: string): Promise<'symlink' | 'copy'>
  /** The target of a symbolic link, or undefined when `path` is not one. */
  readLink(path: string): Promise<string | undefined>
  /** Entries of `dir` (none when it does not exist); recursive lists the whole tree, not following links. */
  list(dir: string, options?: ListOptions): Promise<HubEntry[]>
  /** Remove a file, link or empty directory; absent is fine. */
  remove(path: string): Promise<void>
  mkdirp(dir: string): Promise<void>
  /**
   * Remove the directories this hub made itself (mkdirp, or the missing parents of a write or
   * a lock) that are `dir`, under it or above it, and are empty, deepest first: the cleanup of
   * a run that failed before putting anything there. A directory that was there before, or
   * that holds anything, stays.
   */
  removeEmptyDirectoriesMade(dir: string): Promise<void>
  /** sha256 hex of remote files (undefined for absent ones), for checksum comparisons. */
  sha256(paths: readonly string[]): Promise<(string | undefined)[]>
  /**
   * True once the hub can no longer be used (its connection lost or closed by the server):
   * every later request would fail the same way, so a run of several items stops there.
   */
  lost(): boolean
  close(): Promise<void>
}

/**
 * Of the directories in `made`, those that are `dir`, under it or above it, deepest first (a
 * child's path is longer than its parent's). Paths are compared without trailing slashes.
 */
export function madeDirectoriesAround(made: Iterable<string>, dir: string): string[] {
  const target = dir.replace(/(.)\/+$/, '$1')
  const related = (d: string) => d === target || d.startsWith(`${target}/`) || target.startsWith(`${d}/`)
  return [...made].filter(related).sort((a, b) => b.length - a.length)
}

/** A temporary name next to `path`, hidden, unique to this process and call. */
export function temporaryName(path: string): string {
  const slash = path.lastIndexOf('/')
  const random = Math.random().toString(36).slice(2, 10)
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.casa-tmp-${process.pid}-${random}`
}

/** The temporary name of a resumable upload of content `md5` to `path`: the same for every run, so the next one finds it. */
export function resumableName(path: string, md5: string): string {
  const slash = path.lastIndexOf('/')
  return `${path.slice(0, slash + 1)}.${path.slice(slash + 1)}.casa-tmp-0-${md5.toLowerCase().replace(/[^0-9a-f]/g, '').slice(0, 16)}`
}

/** Our temporary files, so a mirror can clean those left by an interrupted run. */
export const isTemporaryName = (path: string): boolean => /(^|\/)\.[^/]+\.casa-tmp-\d+-[a-z0-9]+$/.test(path)

/** `12.3 MB` */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`
  if (bytes < 1e6) return `${(bytes / 1e3).toFixed(1)} kB`
  if (bytes < 1e9) return `${(bytes / 1e6).toFixed(1)} MB`
  return `${(bytes / 1e9).toFixed(2)} GB`
}
