// A bound on loading the user's casa.config.ts: it is code, and code may loop forever or await
// something that never settles. CASA_CONFIG_TIMEOUT seconds (30 by default) after the load
// starts, the run ends with one line naming the file. An await that never settles leaves the
// main thread free: a timer rejects it, exit 1. A synchronous loop holds the main thread, where
// no timer nor signal handler can run: a watchdog thread (a worker that only waits) writes the
// line itself, a little later, and ends the process with SIGTERM (SIGKILL a second later if a
// handler of a preloaded module holds it), whose default action applies (the interrupt handlers are installed after the config is loaded, so Ctrl-C and SIGTERM
// end a looping config too).
import { UsageError, UserError } from '../util/errors.js'
import { envSeconds } from '../util/envSeconds.js'
import { printable } from '../util/ui.js'

export function configTimeoutSeconds(env: NodeJS.ProcessEnv = process.env): number {
  return envSeconds('CASA_CONFIG_TIMEOUT', 30, UsageError, env)
}

const message = (file: string, seconds: number) =>
  `${file} did not finish loading in ${seconds} s (a loop, or an await that never settles?): CASA_CONFIG_TIMEOUT=<seconds> to wait longer`

// The watchdog: plain JavaScript evaluated in the worker, no module of ours to load.
const watchdog = `
const { workerData, parentPort } = require('node:worker_threads')
const timer = setTimeout(() => {
  require('node:fs').writeSync(2, workerData.line + '\\n')
  process.kill(process.pid, 'SIGTERM')
  // a SIGTERM handler installed from outside (NODE_OPTIONS=--import ...) cannot run either
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), 1000)
}, workerData.ms)
parentPort.on('message', () => { clearTimeout(timer); parentPort.close() })
`

/**
 * Run `load` (importing and evaluating the config `file`) within the bound. `watchdog: false`
 * for a config that loaded within it before, unchanged (configCache.ts's proven bundles):
 * starting the thread costs about 10 ms of every command, and the timer still bounds an await.
 */
export async function withinConfigDeadline<T>(file: string, load: () => Promise<T>, { watchdog: guarded = true } = {}): Promise<T> {
  const seconds = configTimeoutSeconds()
  const ms = Math.min(2 ** 31 - 1, Math.ceil(seconds * 1000))
  const line = `error: ${printable(message(file, seconds))}`
  // The watchdog fires a second after the timer: a free main thread reports it itself (exit 1).
  // node:worker_threads only where a thread starts: a proven config's run never loads it
  const worker = guarded ? new (await import('node:worker_threads')).Worker(watchdog, { eval: true, workerData: { ms: ms + 1000, line } }) : undefined
  worker?.unref()
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new UserError(message(file, seconds))), ms)
  })
  try {
    return await Promise.race([load(), deadline])
  } finally {
    clearTimeout(timer)
    worker?.postMessage('done')
    void worker?.terminate()
  }
}
