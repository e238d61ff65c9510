// How a task is declared, and how it runs. One definition gives the task its help text,
// its argument parsing and validation, its shell completion, and its `run`. A task file
// calls defineTask(..., import.meta.url): run directly (through its shebang) it executes
// itself; imported by the dispatcher it only hands over its definition.
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { errorMessage, exitCodes, isUserError, systemErrorOnPath } from '../util/errors.js'
import { installInterruptHandlers, interruptSignal } from '../util/interrupt.js'
import { globalOptionHelp, parseWords, type GlobalOptions, type OptionSpecs, type OptionValues } from './options.js'
import { ui, paintResult, redact } from '../util/ui.js'
import type { ResolvedConfig } from '../config/config.js'

export type { OptionSpecs, OptionValues } from './options.js'

export interface TaskContext {
  /** The validated configuration (loaded once, before `run`). */
  config: ResolvedConfig
  globals: GlobalOptions
  /** Aborted on Ctrl-C / SIGTERM. */
  signal: AbortSignal
}

export interface TaskDefinition<O extends OptionSpecs = OptionSpecs> {
  name: string
  /** One line, for `help`. */
  summary: string
  /** Paragraphs for `help <task>`. */
  description?: string
  options: O
  /** Returns the exit code (0 when nothing is returned). */
  run(options: OptionValues<O>, context: TaskContext): Promise<number | void>
}

export function defineTask<const O extends OptionSpecs>(definition: TaskDefinition<O>, moduleUrl?: string): TaskDefinition<O> {
  if (moduleUrl && isMainModule(moduleUrl)) {
    void runTask(definition as unknown as TaskDefinition, process.argv.slice(2)).then((code) => {
      process.exitCode = code
    })
  }
  return definition
}

function isMainModule(moduleUrl: string): boolean {
  if (!process.argv[1]) return false
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(moduleUrl))
  } catch {
    return false
  }
}

export async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises')
  const { join } = await import('node:path')
  const { packageRoot } = await import('../util/paths.js')
  return JSON.parse(await readFile(join(packageRoot, 'package.json'), 'utf8')).version as string
}

/** A config the dispatcher already loaded (to find the task), and for which --config/--repository. */
export interface PreloadedConfig {
  config: ResolvedConfig
  configFile?: string
  repository?: string
}

/** Parse `words`, then load the config and run the task; returns the exit code. Never throws. */
export async function runTask(task: TaskDefinition, words: readonly string[], inherited?: Partial<GlobalOptions>, preloaded?: PreloadedConfig): Promise<number> {
  try {
    const { globals: parsed, options } = parseWords(task.name, task.options, words)
    const globals: GlobalOptions = {
      ...parsed,
      verbose: parsed.verbose || inherited?.verbose === true,
      repository: parsed.repository ?? inherited?.repository,
      config: parsed.config ?? inherited?.config,
    }
    ui.configure({ verbose: globals.verbose })
    if (globals.version) {
      ui.result(`casa_distro_admin ${await version()}`)
      return exitCodes.ok
    }
    if (globals.help || inherited?.help) {
      ui.result(taskHelp(task))
      return exitCodes.ok
    }
    // Loading the config leaves nothing to clean up: Ctrl-C and SIGTERM keep their default
    // action until it is loaded, and end a config that loops forever (see configDeadline.ts).
    const reuse = preloaded && preloaded.configFile === globals.config && preloaded.repository === globals.repository
    const config = reuse ? preloaded.config : await (await import('../config/config.js')).loadConfig({ configFile: globals.config, repository: globals.repository })
    installInterruptHandlers()
    const code = await task.run(options, { config, globals, signal: interruptSignal })
    return code ?? exitCodes.ok
  } catch (error) {
    return reportError(error)
  }
}

/** User errors are one line; anything else is a bug and keeps its stack trace. */
export function reportError(error: unknown): number {
  if (isUserError(error)) {
    ui.error(error.message)
    return error.exitCode
  }
  if (interruptSignal.aborted) return exitCodes.interrupted
  const onPath = systemErrorOnPath(error)
  if (onPath) {
    ui.error(onPath.message)
    return onPath.exitCode
  }
  ui.error(`internal error: ${errorMessage(error)}`)
  // the stack repeats the message, which may quote a URL with its credentials
  console.error(redact(String((error as Error)?.stack ?? error)))
  return exitCodes.failure
}

function formatDefault(value: unknown): string {
  if (value === undefined) return ''
  if (typeof value === 'boolean') return value ? '1' : '0'
  return typeof value === 'string' ? `'${value}'` : String(value)
}

/** `help <task>`: the summary, description, then each option with its default. */
export function taskHelp(task: TaskDefinition): string {
  const lines = [`${paintResult('bold', `casa_distro_admin ${task.name}`)} [options]`, '', task.summary]
  if (task.description) lines.push('', task.description.trim())
  const options = Object.entries(task.options)
  if (options.length > 0) {
    lines.push('', 'Options (write key=value, or --key value / --key=value; dashes and underscores are alike):')
    for (const [name, spec] of options) {
      const def = spec.default === undefined && spec.type !== 'boolean' ? 'no default' : `default = ${formatDefault(spec.default ?? false)}`
      lines.push(`  ${paintResult('bold', name)}${spec.short ? ` (-${spec.short})` : ''}${spec.positional ? ' (or as plain words)' : ''}`)
      lines.push(`      ${def}`)
      for (const line of spec.help.split('\n')) lines.push(`      ${line}`)
      if (spec.choices) lines.push(`      one of: ${spec.choices.join(', ')}`)
    }
  }
  lines.push('', 'Global options:')
  for (const [flag, help] of globalOptionHelp) lines.push(`  ${flag.padEnd(22)} ${help}`)
  return lines.join('\n')
}
