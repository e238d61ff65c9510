// Ctrl-C and SIGTERM: abort running work through one AbortSignal, run the cleanups that
// tasks registered (remove temporary files, temporary containers), then exit 130.
const controller = new AbortController()
const cleanups = new Set<() => void | Promise<void>>()
let installed = false

/** Aborted when the user interrupts the run. Pass it to every long operation. */
export const interruptSignal: AbortSignal = controller.signal

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
    if (++interrupts > 1) process.exit(130)
    process.stderr.write(`\ninterrupted (${signal}), cleaning up...\n`)
    controller.abort(new Error(`interrupted by ${signal}`))
    for (const cleanup of [...cleanups].reverse()) {
      try {
        await cleanup()
      } catch {
        // best effort: the next cleanup still runs
      }
    }
    process.exit(130)
  }
  process.on('SIGINT', handle)
  process.on('SIGTERM', handle)
}
