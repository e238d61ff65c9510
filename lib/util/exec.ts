// Running external programs (docker, git, tar2sqfs, ...): every command is echoed with -v,
// a non-zero exit becomes a CommandError carrying the program's own last words, and a
// missing program says which package provides it.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { UserError } from './errors.js'
import { redact } from './redact.js'
import { ui } from './ui.js'

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

/** Start a program with the command echoed (-v). The caller owns its streams. */
export function start(program: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  ui.command([program, ...args], typeof options.cwd === 'string' ? options.cwd : undefined)
  return spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options })
}

/**
 * Run a program to completion, capturing its output. It is spawned directly, every argument
 * one word (no shell in between: a shell per command costs about 10 ms, and release plans
 * run git hundreds of times).
 */
export function run(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = start(program, args, { cwd: options.cwd, env: options.env ?? process.env, signal: options.signal, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })
    const stdout: Buffer[] = []
    const stderr: Buffer[] = []
    const forward = (chunk: Buffer) => {
      if (options.stream) ui.info(chunk.toString().replace(/\n$/, ''))
      options.onOutput?.(chunk.toString())
    }
    child.stdout!.on('data', (chunk: Buffer) => (stdout.push(chunk), forward(chunk)))
    child.stderr!.on('data', (chunk: Buffer) => (stderr.push(chunk), forward(chunk)))
    if (options.input !== undefined) {
      child.stdin!.on('error', () => {}) // EPIPE when the program exits without reading: its exit code tells
      child.stdin!.end(options.input)
    }
    let missing = false
    child.on('error', (error: NodeJS.ErrnoException) => (missing ||= error.code === 'ENOENT'))
    child.on('close', (code) => {
      if (missing) return reject(notInstalled(program))
      const result = { exitCode: code ?? 1, stdout: Buffer.concat(stdout).toString(), stderr: Buffer.concat(stderr).toString() }
      if (result.exitCode !== 0 && !options.allowFailure) reject(new CommandError([program, ...args], result))
      else resolve(result)
    })
  })
}

/** Is `program` on the PATH? */
export async function isInstalled(program: string): Promise<boolean> {
  // A plain PATH lookup: importing zx for its `which` took 145 ms, on the way of every conversion.
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    const path = join(dir || '.', program)
    try {
      accessSync(path, constants.X_OK)
      return statSync(path).isFile()
    } catch {
      return false
    }
  })
}
