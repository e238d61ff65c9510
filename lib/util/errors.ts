// User errors: bad input, missing files, unreachable servers. They are printed as one
// line without a stack trace; anything else that escapes a task is a programming error.
import { printable } from './ui.js'

/** Exit codes shared by every task. */
export const exitCodes = {
  ok: 0,
  failure: 1, // the work failed (a build, an upload, a filter matching nothing)
  usage: 2, // the command line was wrong (unknown task or option, bad value)
  interrupted: 130, // Ctrl-C; SIGTERM exits 143 (interrupt.ts: 128 + the signal)
} as const

export class UserError extends Error {
  readonly exitCode: number
  constructor(message: string, exitCode: number = exitCodes.failure) {
    super(message)
    this.name = 'UserError'
    this.exitCode = exitCode
  }
}

/** A command-line mistake: exits 2, like most CLIs. */
export class UsageError extends UserError {
  constructor(message: string) {
    super(message, exitCodes.usage)
    this.name = 'UsageError'
  }
}

export function isUserError(error: unknown): error is UserError {
  return error instanceof UserError
}

/** The message of anything thrown, without its stack. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/**
 * The one message for a local file or directory that cannot be read (its path as given). Its
 * control characters escaped: Node's own message repeats the path, a name holding a newline
 * must not split the line.
 */
export function cannotRead(path: string, error: unknown): UserError {
  return new UserError(printable(`cannot read ${path}: ${errorMessage(error)}`))
}
