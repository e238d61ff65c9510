// A number of seconds given in an environment variable (CASA_CONFIG_TIMEOUT,
// CASA_REGISTRY_TIMEOUT): one rule for what is accepted and one message for what is not.
import { UserError } from './errors.js'
import { printable } from './ui.js'

/**
 * The seconds `name` says in `env`, `fallback` when unset or empty. A day at most: past 2^31 ms
 * Node's timers fire at once. A bad value is thrown as `Refusal` (the caller's exit code).
 */
export function envSeconds(name: string, fallback: number, Refusal: new (message: string) => UserError = UserError, env: NodeJS.ProcessEnv = process.env): number {
  const text = env[name]
  if (text === undefined || text === '') return fallback
  const seconds = Number(text)
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86_400) {
    throw new Refusal(printable(`${name}=${text}: expected a number of seconds above 0, at most 86400 (a day)`))
  }
  return seconds
}
