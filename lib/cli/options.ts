// Command-line words to typed task options. Accepts the original's `key=value` words and
// the usual `--key value`, `--key=value`, `--no-key`, with dashes or underscores alike.
import minimist from 'minimist'
import { UsageError } from '../util/errors.js'
import { didYouMean } from '../util/suggest.js'

export interface OptionSpec {
  type: 'string' | 'boolean' | 'number'
  default?: string | boolean | number
  /** One line for `help <task>`. */
  help: string
  /** Allowed values of a string option. */
  choices?: readonly string[]
  /**
   * Bare words (not key=value) give this option: one word, or with 'list' (a comma-separated
   * option) any number of words, joined with commas (`list_images 'a/*' 'b/*'`).
   */
  positional?: boolean | 'list'
  /** A one-letter alias: `-n`. */
  short?: string
  /** A number option taking whole numbers from this minimum only (`jobs`: from 1). */
  min?: number
}
export type OptionSpecs = Record<string, OptionSpec>

type ValueOf<S extends OptionSpec> = S['type'] extends 'boolean' ? boolean : S['type'] extends 'number' ? number : string
export type OptionValues<O extends OptionSpecs> = {
  [K in keyof O]: O[K] extends { default: string | boolean | number } | { type: 'boolean' } ? ValueOf<O[K]> : ValueOf<O[K]> | undefined
}

/** Options every task accepts, before or after the task name. */
export interface GlobalOptions {
  repository?: string
  verbose: boolean
  config?: string
  help: boolean
  version: boolean
}
export const globalOptionHelp: [string, string][] = [
  ['-r, --repository DIR', 'workflow repository (default: $CASA_DEFAULT_REPOSITORY, the config, ~/casa_distro)'],
  ['-v, --verbose', 'show every external command run, and more detail'],
  ['--config FILE', 'casa.config.ts to use (default: $CASA_CONFIG, <repository>/casa.config.ts, ~/.config/casa-distro/casa.config.ts); loading it may take $CASA_CONFIG_TIMEOUT seconds (30)'],
  ['-h, --help', 'show help'],
  ['--version', 'print the version'],
]
const globalNames = ['repository', 'verbose', 'config', 'help', 'version']

export const normalizeName = (name: string): string => name.replace(/-/g, '_')

const truthy = new Set(['1', 'true', 'yes', 'on', 'y'])
const falsy = new Set(['0', 'false', 'no', 'off', 'n', ''])

/** `spelling`: how the user wrote the option, for the message (`components=`); `--name` when unknown. */
function coerce(task: string, name: string, spec: OptionSpec, raw: unknown, spelling?: string): string | boolean | number {
  if (spec.type === 'boolean') {
    if (typeof raw === 'boolean') return raw
    const word = String(raw).toLowerCase()
    if (truthy.has(word)) return true
    if (falsy.has(word)) return false
    throw new UsageError(`${task}: ${name}=${String(raw)}: expected 1 or 0 (true or false)`)
  }
  if (spec.type === 'number') {
    const value = Number(raw)
    if (raw === '' || raw === true || !Number.isFinite(value)) throw new UsageError(`${task}: ${name}=${String(raw)}: expected a number`)
    if (spec.min !== undefined && (!Number.isInteger(value) || value < spec.min)) throw new UsageError(`${task}: ${name}=${String(raw)}: expected a whole number from ${spec.min}`)
    return value
  }
  // `--components` with nothing after it (minimist makes it ''), `--components=` or
  // `components=`: an empty value is a mistake, never a silent "no filter".
  if (raw === true || raw === '') throw new UsageError(`${task}: ${spelling ?? `--${name.replace(/_/g, '-')}`} needs a value`)
  const value = String(raw)
  if (spec.choices && !spec.choices.includes(value)) {
    throw new UsageError(`${task}: ${name}=${value}: expected one of ${spec.choices.join(', ')}${didYouMean(value, spec.choices)}`)
  }
  return value
}

export interface ParsedWords<O extends OptionSpecs> {
  globals: GlobalOptions
  options: OptionValues<O>
}

/** Parse the words after the task name (global options may be mixed in). */
export function parseWords<O extends OptionSpecs>(task: string, specs: O, words: readonly string[]): ParsedWords<O> {
  // [normalized name, value, the key as typed]
  const keyValue: [string, string, string][] = []
  const dashed: string[] = []
  for (const word of words) {
    const assignment = /^(--)?([A-Za-z][\w-]*)=(.*)$/s.exec(word)
    if (assignment) keyValue.push([normalizeName(assignment[2]!), assignment[3]!, `${assignment[1] ?? ''}${assignment[2]!}`])
    else dashed.push(word)
  }
  // minimist sees `--ignore_warnings` for `--ignore-warnings`: messages echo what was typed
  const typed = new Map<string, string>()
  const forMinimist = dashed.map((w) => {
    const normalized = w.startsWith('--') ? `--${normalizeName(w.slice(2))}` : w
    if (!typed.has(normalized)) typed.set(normalized, w)
    return normalized
  })
  const booleans = Object.entries(specs).filter(([, s]) => s.type === 'boolean').map(([n]) => n)
  const shortAliases = Object.fromEntries(Object.entries(specs).filter(([, s]) => s.short).map(([n, s]) => [s.short!, n]))
  const parsed = minimist(forMinimist, {
    boolean: [...booleans, 'verbose', 'help', 'version'],
    string: ['repository', 'config', ...Object.entries(specs).filter(([, s]) => s.type !== 'boolean').map(([n]) => n)],
    alias: { r: 'repository', v: 'verbose', h: 'help', ...shortAliases },
    unknown: (arg) => {
      if (arg.startsWith('-')) {
        const name = normalizeName(arg.replace(/^-+(no_)?/, '').split('=')[0]!)
        if (!(name in specs) && !globalNames.includes(name) && !Object.keys(shortAliases).includes(name)) {
          throw new UsageError(`${task}: unknown option ${typed.get(arg) ?? arg}${didYouMean(name, [...Object.keys(specs), ...globalNames])}`)
        }
      }
      return true
    },
  })

  // Given twice with the same value is harmless; with two values (-r a ... -r b), one of them
  // would be silently dropped: a usage error naming the option (see given() below).
  const last = (value: unknown) => (Array.isArray(value) ? value.at(-1) : value) as string | undefined
  for (const name of ['repository', 'config'] as const) {
    const all = [parsed[name]].flat().filter((v) => v !== undefined)
    if (all.some((v) => v === '' || v === true)) throw new UsageError(`${task}: --${name} needs a value`)
    given(task, name, all.map(String), keyValue)
  }
  const globals: GlobalOptions = {
    repository: last(parsed.repository) || undefined,
    verbose: parsed.verbose === true,
    config: last(parsed.config) || undefined,
    help: parsed.help === true,
    version: parsed.version === true,
  }
  const values: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(specs)) if (spec.default !== undefined) values[name] = spec.default
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.type === 'boolean' && values[name] === undefined) values[name] = false
  }
  for (const [name, spec] of Object.entries(specs)) {
    const raw = parsed[name]
    // minimist reports every declared boolean, given or not: only take the ones on the line.
    const present = raw !== undefined && (spec.type !== 'boolean' || dashed.some((w) => mentions(w, name, spec)))
    const all = !present ? [] : spec.type === 'boolean' ? dashed.filter((w) => mentions(w, name, spec)).map((w) => normalizeName(w.replace(/^-+/, '')) !== `no_${name}`) : [raw].flat()
    const coerced = all.map((v) => coerce(task, name, spec, v))
    given(task, name, coerced.map(String), keyValue, (v, key) => String(coerce(task, name, spec, v, `${key}=`)))
    if (present) values[name] = coerced.at(-1)
  }
  for (const [name, raw, key] of keyValue) {
    if (globalNames.includes(name) && !(name in specs)) {
      const pathOption = name === 'repository' || name === 'config'
      ;(globals as unknown as Record<string, unknown>)[name] = coerce(task, name, { type: pathOption ? 'string' : 'boolean', help: '' }, raw, `${key}=`)
      continue
    }
    const spec = specs[name]
    if (!spec) throw new UsageError(`${task}: unknown option ${key}${didYouMean(name, Object.keys(specs))}`)
    values[name] = coerce(task, name, spec, raw, `${key}=`)
  }
  const positional = parsed._.map(String)
  if (positional.length > 0) {
    const target = Object.entries(specs).find(([, s]) => s.positional)
    if (!target) throw new UsageError(`${task}: unexpected argument "${positional[0]}" (options are written key=value or --key value)`)
    const [name, spec] = target
    if (parsed[name] !== undefined || keyValue.some(([given]) => given === name)) {
      throw new UsageError(`${task}: ${name} given twice: as ${name}= (or --${name}) and as the word "${positional[0]}"`)
    }
    if (spec.positional !== 'list' && positional.length > 1) {
      throw new UsageError(`${task}: one ${name} expected, got ${positional.length} words: ${positional.map((w) => `"${w}"`).join(' ')} (quote a value holding spaces)`)
    }
    values[name] = coerce(task, name, spec, positional.join(','))
  }
  return { globals, options: values as OptionValues<O> }
}

/**
 * Refuse an option given more than once with different values (as --name, -x or name=),
 * naming it and both values; `normalize` makes `jobs=4` and `--jobs 4.0`, `force=yes` and
 * `--force` alike.
 */
function given(task: string, name: string, dashedValues: readonly string[], keyValue: readonly [string, string, string][], normalize: (raw: string, key: string) => string = (v) => v): void {
  const values = [...dashedValues, ...keyValue.filter(([n]) => n === name).map(([, v, key]) => normalize(v, key))]
  const distinct = [...new Set(values)]
  if (distinct.length > 1) throw new UsageError(`${task}: ${name} given twice with different values: ${distinct.map((v) => JSON.stringify(v)).join(' and ')}`)
}

function mentions(word: string, name: string, spec: OptionSpec): boolean {
  const n = normalizeName(word.replace(/^-+/, ''))
  return word.startsWith('--') ? n === name || n === `no_${name}` : spec.short !== undefined && word.startsWith('-') && word.slice(1).includes(spec.short)
}
