// `$` for tasks: zx's, configured once per run so that a site task's commands behave like the
// library's: echoed with -v (through zx's log hook) with credentials masked by the one
// redaction rule, output captured, killed on Ctrl-C, and a failure one line (CommandError).
// zx is imported when the first command runs, not when a task file is loaded: `help` loads
// every task file and must stay fast.
import type { Options, ProcessOutput, Shell } from 'zx/core'
import { CommandError, notInstalled, saysNotFound, type RunOptions, type RunResult } from './commandResult.js'
import { interruptSignal } from './interrupt.js'
import { redact } from './redact.js'
import { paint, ui } from './ui.js'

/** Options of one command, or of the commands of a `$({ ... })` template. */
export type ShellOptions = Partial<Pick<Options, 'cwd' | 'env' | 'input' | 'nothrow' | 'timeout' | 'quiet'>>

/** What a command printed, and how it ended. */
export type CommandOutput = ProcessOutput

/** A tagged template running one command through the shell; `${value}` is quoted as one word. */
export interface Dollar {
  (pieces: TemplateStringsArray, ...values: unknown[]): Promise<CommandOutput>
  /** The same `$` with these options for its commands (a working directory, say). */
  (options: ShellOptions): (pieces: TemplateStringsArray, ...values: unknown[]) => Promise<CommandOutput>
}

let configured: Promise<Shell> | undefined

/** zx's log hook: with -v, the command line, credentials masked by the one redaction rule. */
function echo(entry: Parameters<Options['log']>[0]): void {
  if (entry.kind === 'cmd' && ui.verbose) ui.info(`${paint('cyan', '$')} ${redact(entry.cmd)}${entry.cwd && entry.cwd !== process.cwd() ? paint('gray', ` (in ${entry.cwd})`) : ''}`)
}

/** zx's `$`, configured once: quiet, echo with -v through its log hook (masked), killed on Ctrl-C. */
function zx(): Promise<Shell> {
  configured ??= import('zx/core').then(({ $ }) => {
    $.verbose = false
    $.quiet = true
    $.log = echo
    return $({ signal: interruptSignal })
  })
  return configured
}

/**
 * The library's captured commands (exec.run): `program` with `args` as words through zx's
 * `$`, so they are echoed, masked and ended on Ctrl-C as a site task's are.
 */
export async function runArgv(program: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const shell = await zx()
  const forward = options.stream || options.onOutput
    ? (text: string) => {
        if (options.stream) ui.info(text.replace(/\n$/, ''))
        options.onOutput?.(text)
      }
    : undefined
  const output = await shell({
    cwd: options.cwd,
    env: options.env ?? process.env,
    input: options.input,
    signal: options.signal ? AbortSignal.any([options.signal, interruptSignal]) : interruptSignal,
    nothrow: true,
    log: (entry) => (entry.kind === 'stdout' || entry.kind === 'stderr' ? forward?.(entry.data.toString()) : echo(entry)),
  })`${[program, ...args]}`
  // no process at all (a working directory that does not exist): what node said, one line
  if (output.exitCode === null && output.signal === null && output.cause) throw output.cause
  const result = { exitCode: output.exitCode ?? 128, stdout: output.stdout, stderr: output.stderr }
  if (saysNotFound(program, result.exitCode, result.stderr)) throw notInstalled(program)
  if (result.exitCode !== 0 && !options.allowFailure) throw new CommandError([program, ...args], result)
  return result
}

/** The program and first words of a command line, for the one-line error. */
function words(command: string): string[] {
  return command.trim().split(/\s+/).map((word) => word.replace(/^\$'|^'|'$/g, ''))
}

async function runCommand(options: ShellOptions, pieces: TemplateStringsArray, values: unknown[]): Promise<CommandOutput> {
  const shell = await zx()
  const promise = (Object.keys(options).length > 0 ? shell(options) : shell)(pieces, ...values)
  try {
    return await promise
  } catch (error) {
    const output = error as ProcessOutput
    if (typeof output?.exitCode !== 'number') throw error
    const argv = words(promise.cmd)
    // 127: the shell found no such program
    if (output.exitCode === 127 && /not found/.test(output.stderr)) throw notInstalled(argv[0]!)
    throw new CommandError(argv, { exitCode: output.exitCode, stdout: output.stdout, stderr: output.stderr })
  }
}

/**
 * Run a command: `` await $`docker image ls ${name}` ``. Its output is captured (`.stdout`),
 * `-v` echoes it (credentials masked), Ctrl-C kills it, and a non-zero exit is a one-line
 * error naming the command and the program's last words (`$({ nothrow: true })` to get the
 * output instead). `$({ cwd })` gives a `$` running its commands there.
 */
export const $: Dollar = ((first: TemplateStringsArray | ShellOptions, ...values: unknown[]) => {
  if (Array.isArray(first) && 'raw' in first) return runCommand({}, first as TemplateStringsArray, values)
  const options = first as ShellOptions
  return (pieces: TemplateStringsArray, ...rest: unknown[]) => runCommand(options, pieces, rest)
}) as Dollar
