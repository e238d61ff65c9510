// A Docker engine that accepts connections and then says nothing (a dockerd stuck on a lock,
// a socket proxy whose backend is gone) would hold every docker command of a run forever: the
// CLI has no timeout of its own, and neither has an API request. A build or a push may rightly
// run for an hour, so the bound is not on the commands: once per run, beside the first docker
// call, the engine is asked a question it answers at once (`/_ping` on its socket, else
// `docker version`). When no answer comes in CASA_DOCKER_TIMEOUT seconds (60 by default), every
// docker call of the run ends with one line naming the engine. The question runs beside the
// work, never before it: a run whose engine answers waits for nothing.
import { setMaxListeners } from 'node:events'
import { UserError } from '../util/errors.js'
import { envSeconds } from '../util/envSeconds.js'

export function dockerTimeoutSeconds(env: NodeJS.ProcessEnv = process.env): number {
  return envSeconds('CASA_DOCKER_TIMEOUT', 60, UserError, env)
}

/** The one line for an engine that took the connection and never answered. */
export class EngineSilentError extends UserError {
  constructor(where: string, seconds: number) {
    super(`the Docker engine at ${where} took the connection but did not answer in ${seconds} s: check dockerd (CASA_DOCKER_TIMEOUT=<seconds> to wait longer)`)
    this.name = 'EngineSilentError'
  }
}

/** How to ask the engine its question; it resolves or rejects once answered (any answer). */
export type EngineProbe = (signal: AbortSignal) => Promise<unknown>

export interface EngineSilence {
  /** Rejects with an EngineSilentError once the bound has passed unanswered; never settles otherwise. */
  silent: Promise<never>
  /** Aborted at the same moment: give it to every request and process waiting on the engine. */
  signal: AbortSignal
}

let watch: (EngineSilence & { key: string }) | undefined

/**
 * The watch over the engine at `where`: its question (`probe`) is asked once per engine and
 * run; race each docker call against `silent`, and end it with `signal`.
 */
export function engineSilence(where: string, probe: EngineProbe): EngineSilence {
  if (watch?.key === where) return watch
  const seconds = dockerTimeoutSeconds()
  const gone = new AbortController()
  // every docker call of the run listens to it (one per image inspected, at once): not a leak
  setMaxListeners(0, gone.signal)
  const silent = new Promise<never>((_, reject) => {
    const asking = new AbortController()
    const timer = setTimeout(() => {
      asking.abort()
      const error = new EngineSilentError(where, seconds)
      reject(error)
      gone.abort(error)
    }, Math.min(2 ** 31 - 1, Math.ceil(seconds * 1000)))
    // The timer must not keep a finished run alive: the work it guards keeps the loop alive.
    timer.unref()
    probe(asking.signal).then(
      () => clearTimeout(timer),
      () => clearTimeout(timer), // refused, no socket: the call itself says why
    )
  })
  silent.catch(() => {}) // nobody racing it when it fires is no crash
  watch = { key: where, silent, signal: gone.signal }
  return watch
}

/** Forget the answer (tests, and a run that points docker at another engine). */
export function resetEngineWatch(): void {
  watch = undefined
}
