// Ctrl-C and SIGTERM: abort running work through one AbortSignal, run the cleanups that
// tasks registered (remove temporary files, temporary containers), then exit 128 + the
// signal's number (130 for Ctrl-C, 143 for SIGTERM), as a shell reports a process it ended.
import { setMaxListeners } from 'node:events'
import { constants } from 'node:os'

const controller = new AbortController()
const cleanups = new Set<() => void | Promise<void>>()
let installed = false

/** Aborted when the user interrupts the run. Pass it to every long operation. */
export const interruptSignal: AbortSignal = controller.signal
// Every request and process of a run listens to it, dozens at once in a big plan: no leak,
// and node's "possible memory leak" warning after 10 listeners would only alarm the user.
setMaxListeners(0, interruptSignal)

/** Run `cleanup` if the process is interrupted; returns a function that unregisters it. */
export function onInterrupt(cleanup: () => void | Promise<void>): () => void {
  cleanups.add(cleanup)
  return () => cleanups.delete(cleanup)
}

export function installInterruptHandlers(): void {
  if (installed) return
  installed = true
  let interrupts = 0
  const handle = async (signal: NodeJS.Signals) => {
    const code = 128 + (constants.signals[signal] ?? 2)
    if (++interrupts > 1) process.exit(code)
    process.stderr.write(`\ninterrupted (${signal}), cleaning up...\n`)
    controller.abort(new Error(`interrupted by ${signal}`))
    // Newest first, until none is left: work goes on while a cleanup waits on the network,
    // and what it starts meanwhile (a lock whose creation was on the wire, an upload's
    // temporary file) registers its cleanup then, after a list taken here would have been.
    for (let cleanup = newest(); cleanup; cleanup = newest()) {
      cleanups.delete(cleanup)
      try {
        await cleanup()
      } catch {
        // best effort: the next cleanup still runs
      }
    }
    process.exit(code)
  }
  process.on('SIGINT', handle)
  process.on('SIGTERM', handle)
}

function newest(): (() => void | Promise<void>) | undefined {
  let last
  for (const cleanup of cleanups) last = cleanup
  return last
}
