// Several items published to one hub, one after the other (build workflows). A failure that
// concerns one item (its lock held by another run, a local file that cannot be read, a remote
// path in the way) is reported in its line, and the next item is tried: the user fixes that
// one and re-runs, the others are published meanwhile. A failure of the hub itself (its
// connection lost) or an interrupt would fail every later item the same way: the run stops
// at once. Either way the last line counts the failed items and names those not tried.
import { UserError, isUserError } from '../util/errors.js'
import { onInterrupt } from '../util/interrupt.js'
import type { Hub } from './transport.js'
import { ui } from '../util/ui.js'

export interface InTurnOptions<T> {
  /** How a message names an item (control characters escaped). */
  name: (item: T) => string
  /** What the items are, in the plural: `build workflows`. */
  noun: string
  hub: Hub
  /** The run's interrupt (Ctrl-C, SIGTERM). */
  signal?: AbortSignal
}

/**
 * Run `work` on each item in turn. One item: its error as it is, as a run of one always said.
 * Several: a user error of one is printed and the next is tried, then one line counts them
 * (exit 1); a lost hub or an interrupt stops at once, naming the items not tried.
 */
export async function publishInTurn<T>(items: readonly T[], options: InTurnOptions<T>, work: (item: T) => Promise<void>): Promise<void> {
  if (items.length === 1) return work(items[0]!)
  const { name, noun, hub, signal } = options
  const failed: string[] = []
  let next = 0 // the first item not started
  let running: T | undefined
  const summary = (why?: string) => {
    const of = `of ${items.length} ${noun}`
    const rest = items.slice(next).map(name)
    const parts = []
    if (failed.length > 0) parts.push(`${failed.length} ${of} failed: ${failed.join(', ')}`)
    if (rest.length > 0) parts.push(`${rest.length} ${failed.length > 0 ? '' : `${of} `}not tried${why ? ` (${why})` : ''}: ${rest.join(', ')}`)
    return parts.join('; ')
  }
  let interruptTold = false
  const tellInterrupted = () => {
    if (interruptTold) return
    interruptTold = true
    const said = summary()
    if (running !== undefined || said) ui.error(['interrupted', ...(running !== undefined ? [` during ${name(running)}`] : []), said && `; ${said}`].join(''))
  }
  // Ctrl-C ends the process from its handler, once the cleanups have run: registered first,
  // this one runs last, after those of the item under way.
  const forget = onInterrupt(tellInterrupted)
  try {
    for (const item of items) {
      if (signal?.aborted) {
        tellInterrupted()
        throw signal.reason
      }
      running = item
      next++
      try {
        await work(item)
      } catch (error) {
        if (signal?.aborted) {
          tellInterrupted()
          throw error
        }
        if (!isUserError(error)) throw error // a bug: its stack trace, now
        ui.error(error.message)
        failed.push(name(item))
        if (hub.lost()) throw new UserError(summary('the hub failed'))
      } finally {
        running = undefined
      }
    }
  } finally {
    forget()
  }
  if (failed.length > 0) throw new UserError(summary())
}

/** The hub could not be opened (unreachable, authentication, host key): its error, then every item not tried. */
export function hubNotOpened<T>(items: readonly T[], options: Pick<InTurnOptions<T>, 'name' | 'noun'>, error: unknown): unknown {
  if (items.length === 1 || !isUserError(error)) return error
  ui.error(error.message)
  return new UserError(`${items.length} of ${items.length} ${options.noun} not tried (the hub failed): ${items.map(options.name).join(', ')}`)
}
