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

/**
 * A local path the run needs cannot be used (an unwritable cache, an output that is a
 * directory): every later item would fail alike, so loops over items rethrow it.
 */
export class LocalPathError extends UserError {
  constructor(message: string) {
    super(message)
    this.name = 'LocalPathError'
  }
}

/** What a failed system call on a path says, in words: `EISDIR` is "is a directory". */
const systemReasons: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory (a file was expected)',
  ENOTDIR: 'a part of the path is not a directory',
  ENOENT: 'no such file or directory',
  EEXIST: 'already exists',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ELOOP: 'too many levels of symbolic links',
  ENAMETOOLONG: 'file name too long',
  ENOTEMPTY: 'directory not empty',
  EXDEV: 'on another file system',
}

/**
 * A failed system call on a path the user chose (an output that is a directory, an unwritable
 * repository, a full disk), as a one-line UserError naming the path; undefined for anything
 * else. The one place that turns Node's errno errors, wherever they escape from, into the
 * user's error they are instead of an "internal error" with a stack.
 */
export function systemErrorOnPath(error: unknown, what?: string): LocalPathError | undefined {
  const e = error as (NodeJS.ErrnoException & { dest?: string }) | undefined
  if (!(e instanceof Error) || typeof e.code !== 'string' || typeof e.path !== 'string' || !(e.code in systemReasons)) return undefined
  const target = e.dest ? `${e.path} -> ${e.dest}` : e.path
  return new LocalPathError(printable(`cannot ${e.syscall ?? 'use'} ${what ? `${what} ` : ''}${target}: ${systemReasons[e.code]}`))
}
