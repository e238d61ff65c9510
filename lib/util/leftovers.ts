// Our own leftovers of a run that was killed (SIGKILL, a power cut): files and directories
// whose name carries the pid of the run that made them (`<name>.tmp-<pid>`,
// `.<name>.tmp-<pid>-<random>`, ...), and Docker containers labelled with the run that made
// them (runMark). A later run removes the ones whose process is gone, and only those:
// another run's live temporary (its pid alive) is never touched, nor anything not named by
// our patterns.
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { hostname } from 'node:os'
import { basename, dirname, join } from 'node:path'

/** Is process `pid` alive (or alive under another user: EPERM)? */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The temporary name of `path` for this process: `<path>.tmp-<pid>`. */
export const temporaryOf = (path: string, pid: number = process.pid): string => `${path}.tmp-${pid}`

/** `text` as a regular expression matching itself. */
export const literally = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * Remove the entries of `dir` that `pattern` matches, its group `pid` the process that made
 * them, for every pid that is gone (not ours: ours is in use). Best effort, returns what was
 * removed; a directory that cannot be read means nothing to do.
 */
export function removeDeadMatching(dir: string, pattern: RegExp): string[] {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const removed: string[] = []
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.groups?.pid)
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || isAlive(pid)) continue
    try {
      rmSync(join(dir, name), { recursive: true, force: true })
      removed.push(join(dir, name))
    } catch {
      // another run removed it first, or it cannot be: left for the next run
    }
  }
  return removed
}

/** Remove `<path>.tmp-<pid>` beside `path` for every pid that is gone. */
export function removeDeadLeftovers(path: string): string[] {
  return removeDeadMatching(dirname(path), new RegExp(`^${literally(basename(path))}\\.tmp-(?<pid>\\d+)$`))
}

/** This boot of the machine: a pid of an earlier boot is gone, whatever runs under it now. */
function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
  } catch {
    return 'unknown'
  }
}

/**
 * What names this run on things that outlive it elsewhere than in a file name (a container's
 * label): `<host> <boot> <pid>`.
 */
export const runMark = (): string => `${hostname()} ${bootId()} ${process.pid}`

/**
 * Whether the run `mark` names has ended: made on this host (a run elsewhere cannot be asked)
 * and either during an earlier boot or by a process that is gone.
 */
export function isDeadRun(mark: string): boolean {
  const [host, boot, pidText] = mark.split(' ')
  const pid = Number(pidText)
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false
  if (boot !== bootId()) return boot !== 'unknown' && bootId() !== 'unknown'
  return pid !== process.pid && !isAlive(pid)
}
