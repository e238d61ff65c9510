// What running an external program gives back and how it fails, shared by the two ways
// commands run (exec.ts: streams the caller owns; shell.ts: zx's $, output captured): a
// non-zero exit is a CommandError carrying the program's own last words, and a missing
// program says which package provides it.
import { UserError } from './errors.js'
import { redact } from './redact.js'

export interface RunOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Text or bytes written to the program's stdin. */
  input?: string | Buffer
  /** Return the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean
  /** Show the program's output live on stderr (long builds) instead of capturing it silently. */
  stream?: boolean
  /** Called with each chunk of stdout/stderr as it arrives. */
  onOutput?: (chunk: string) => void
  signal?: AbortSignal
}

export interface RunResult {
  exitCode: number
  stdout: string
  stderr: string
}

/** Debian/Ubuntu packages providing the programs we run, for "not installed" messages. */
const packageOf: Record<string, string> = {
  docker: 'docker.io (or Docker CE)',
  git: 'git',
  tar2sqfs: 'squashfs-tools-ng',
  sqfs2tar: 'squashfs-tools-ng',
  mksquashfs: 'squashfs-tools',
  siftool: 'siftool',
  ssh: 'openssh-client',
  sftp: 'openssh-client',
}

export class CommandError extends UserError {
  constructor(
    readonly argv: readonly string[],
    readonly result: RunResult,
  ) {
    const said = reasonLine(result.stderr || result.stdout)
    // The program's words may quote a URL with its credentials (git does): redacted like any output.
    super(redact(`${argv[0]} ${commandWord(argv)} failed (exit ${result.exitCode})${said ? `: ${said}` : ''}`.replace('  ', ' ')))
    this.name = 'CommandError'
  }
}

/**
 * The word after the program that says which command failed: git's subcommand past its global
 * `-C <dir>` and `-c <name=value>` options (`git -C dir fetch` failed is `git fetch` failed,
 * not `git -C`), the first argument of any other program.
 */
function commandWord(argv: readonly string[]): string {
  let i = 1
  if (argv[0] === 'git') while (argv[i] === '-C' || argv[i] === '-c') i += 2
  return argv[i] ?? ''
}

/**
 * A program we need is missing: no use going on with the next item (every component of a
 * release plan would fail the same way), so loops that collect per-item failures rethrow it.
 */
export class NotInstalledError extends UserError {
  constructor(readonly program: string) {
    const pkg = packageOf[program]
    super(`${program} is not installed${pkg ? ` (install the ${pkg} package)` : ''}`)
    this.name = 'NotInstalledError'
  }
}

export function notInstalled(program: string): UserError {
  return new NotInstalledError(program)
}

/** A shell's words for a missing `program` (exit 127): `sh: 7: git: not found`, `bash: git: command not found`. */
export function saysNotFound(program: string, exitCode: number, stderr: string): boolean {
  return exitCode === 127 && new RegExp(`\\b${program}: (command )?not found`).test(stderr)
}

/** The line that says why a command failed: its first `fatal:`/`error:` line, else its last line. */
export function reasonLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean)
  return lines.find((l) => /^(fatal|error|ERROR):/.test(l)) ?? lines.at(-1) ?? ''
}

/** The last non-empty lines of a program's output, joined, for one-line errors. */
export function lastLines(text: string, count: number): string {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-count)
    .join(' | ')
}
