// Our own leftovers of a run that was killed (SIGKILL, a power cut): files and directories
// named `<name>.tmp-<pid>` by the run of process <pid>. A later run removes the ones whose
// process is gone, and only those: another run's live temporary (its pid alive) is never
// touched, nor anything not named by our pattern.
import { readdirSync, rmSync } from 'node:fs'
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

/**
 * Remove `<path>.tmp-<pid>` beside `path` for every pid that is gone (not ours: ours is in use).
 * Best effort, returns what was removed; a directory that cannot be read means nothing to do.
 */
export function removeDeadLeftovers(path: string): string[] {
  const dir = dirname(path)
  const prefix = `${basename(path)}.tmp-`
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return []
  }
  const removed: string[] = []
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    const pid = Number(name.slice(prefix.length))
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
