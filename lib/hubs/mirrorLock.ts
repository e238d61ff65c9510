// One mirror at a time per hub directory. Two runs into the same directory would interleave
// uploads and deletions from two local trees, and each would take the other's temporary files
// for leftovers of an interrupted run and delete them. The lock is a file created with O_EXCL
// in the mirrored directory (the one primitive both sftp and a shared file system give
// atomically), naming its holder so that a refused run can say who holds it.
import { hostname, userInfo } from 'node:os'
import { UserError, errorMessage } from '../util/errors.js'
import { onInterrupt } from '../util/interrupt.js'
import type { Hub } from './transport.js'
import { printable, ui } from '../util/ui.js'

/** The lock's name in the mirrored directory; mirrors neither upload nor delete it. */
export const MIRROR_LOCK = '.casa-mirror.lock'

interface LockHolder {
  task?: string
  user?: string
  host?: string
  pid?: number
  started?: string
}

export interface MirrorLockOptions {
  /** Who takes the lock, shown to a run that is refused it. */
  task: string
  /** Remove a lock held by another run (one the user knows was killed). */
  breakLock?: boolean
}

function describe(holder: LockHolder | undefined): string {
  if (!holder) return 'a run that is starting, or one that died while taking the lock'
  return `${holder.task ?? 'a run'} by ${holder.user ?? '?'}@${holder.host ?? '?'}, pid ${holder.pid ?? '?'}, since ${holder.started ?? '?'}`
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(text) as unknown
    return holder && typeof holder === 'object' ? (holder as LockHolder) : undefined
  } catch {
    return undefined
  }
}

/** A holder on this machine whose process is gone (a run killed with SIGKILL, a crash). */
function diedHere(holder: LockHolder | undefined): boolean {
  if (holder?.host !== hostname() || !Number.isInteger(holder.pid) || holder.pid === process.pid) return false
  try {
    process.kill(holder.pid!, 0)
    return false
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH' // EPERM: alive, another user's
  }
}

/**
 * Remove the lock at `path` if it still reads `text` (a holder that has ended, or break_lock),
 * holding `<path>.takeover` (created O_EXCL) meanwhile: of two runs that find the same dead
 * lock, only one removes it; the other, removing it later, would remove the lock the first
 * has taken since. Resolves to undefined once done, else to the holder of the takeover (a
 * live run taking it over: the caller is refused). A takeover file of a run that died while
 * taking over is removed, as is any with break_lock.
 */
async function takeOver(hub: Hub, path: string, text: string, mine: string, breakLock: boolean): Promise<LockHolder | undefined> {
  const takeover = `${path}.takeover`
  if (!(await hub.createNew(mine, takeover))) {
    const other = parseHolder((await hub.readText(takeover)) ?? '')
    if (!breakLock && !diedHere(other)) return other ?? {}
    await hub.remove(takeover)
    if (!(await hub.createNew(mine, takeover))) return parseHolder((await hub.readText(takeover)) ?? '') ?? {}
  }
  try {
    // under the takeover nobody else removes it, and nobody creates it while it is there
    if ((await hub.readText(path)) === text) await hub.remove(path)
  } finally {
    await hub.remove(takeover)
  }
  return undefined
}

/**
 * Releases the lock. After a failure of the run (`afterFailure`), a lock that cannot be
 * released is a warning: the failure is what the user must read. Otherwise it rejects, as the
 * lock left behind keeps other runs out.
 */
export interface Unlock {
  (options?: { afterFailure?: boolean }): Promise<void>
  /**
   * Start now the read that checks the lock is still ours, which the release otherwise starts:
   * called as the run sends its last change, it shares that change's round trip, and the
   * release only removes the lock (2 round trips instead of 3 on a far-away server).
   */
  checkAhead(): void
}

/**
 * Take the lock of `dir` on `hub` (created, with its parents, if missing). Resolves to the
 * function that releases it; Ctrl-C releases it too, and removes the directories made for it
 * that are left empty. Refused with one line naming the holder.
 */
export async function lockMirror(hub: Hub, dir: string, options: MirrorLockOptions): Promise<Unlock> {
  const path = dir === '' || dir === '.' ? MIRROR_LOCK : `${dir.replace(/\/+$/, '')}/${MIRROR_LOCK}`
  const mine = `${JSON.stringify({ task: options.task, user: userInfo().username, host: hostname(), pid: process.pid, started: new Date().toISOString() })}\n`
  // A read that fails is not taken for "not ours": the lock may well be there still, and
  // whoever released it must hear that it is left behind.
  let reading: Promise<string | undefined> | undefined
  const readLock = () => (reading ??= hub.readText(path))
  const release = async () => {
    // only our own: after a break_lock by somebody else, the lock is theirs
    if ((await readLock()) === mine) await hub.remove(path)
  }
  const leftBehind = (error: unknown) => `${errorMessage(error)}: the lock is left behind`
  // Once: the run's own release and Ctrl-C's may come together (the signal lands while the
  // run releases it); the interrupt then waits for that release instead of exiting under it.
  let releasing: Promise<void> | undefined
  const releaseOnce = () => (releasing ??= release())
  // Interrupted, a run releases the lock and removes the directories it made for it, left
  // empty, as a run that fails does (after the cleanups of its uploads: newest run first).
  // Registered before the lock is asked for: a signal that comes while the server has written
  // it but not yet answered waits for that answer, then finds the lock ours and removes it.
  let taking: Promise<boolean> = Promise.resolve(false)
  const forget = onInterrupt(async () => {
    await taking.catch(() => false)
    const started = releasing !== undefined // then the run's unlock says how it ended
    await releaseOnce().catch((error) => {
      if (!started) ui.warn(leftBehind(error))
    })
    await hub.removeEmptyDirectoriesMade(dir)
  })
  try {
    // a second round only after removing a dead holder's lock, or when the holder let go meanwhile
    for (let round = 0; round < 3; round++) {
      taking = hub.createNew(mine, path)
      if (await taking) {
        const unlock = async ({ afterFailure = false } = {}) => {
          try {
            await releaseOnce()
          } catch (error) {
            if (!afterFailure) throw new UserError(leftBehind(error))
            ui.warn(leftBehind(error))
          } finally {
            forget() // only now: until the lock is gone, Ctrl-C must wait for it
          }
        }
        // a failed read is said by the release that awaits it
        return Object.assign(unlock, { checkAhead: () => void readLock().catch(() => undefined) })
      }
      const text = await hub.readText(path)
      if (text === undefined) continue
      const holder = parseHolder(text)
      if (options.breakLock || diedHere(holder)) {
        const other = await takeOver(hub, path, text, mine, options.breakLock ?? false)
        if (other !== undefined) {
          throw new UserError(printable(`${hub.url}/${dir} is being taken over by another run (${describe(other)}): wait for it to end`))
        }
        ui.warn(printable(`${hub.url}/${path}: removing the lock of ${describe(holder)}${options.breakLock ? ' (break_lock)' : ', which has ended'}`))
        continue
      }
      throw new UserError(
        printable(`${hub.url}/${dir} is being published by another run (${describe(holder)}): wait for it to end, or if it was killed, run again with break_lock=1`),
      )
    }
    throw new UserError(printable(`${hub.url}/${path}: could not take the lock (other runs keep taking it)`))
  } catch (error) {
    forget() // not ours: the caller cleans up after a lock it could not take
    throw error
  }
}
