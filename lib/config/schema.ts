// A small typed validator for the configuration: each schema both checks a value and
// gives its TypeScript type (Infer<>), so the config type and its validation cannot drift.
// Errors name the key path; the caller adds the file.
import { didYouMean } from '../util/suggest.js'
import { redact } from '../util/ui.js'

export class SchemaError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message)
  }
}

export interface Schema<T> {
  readonly expected: string
  check(value: unknown, path: string): T
}
export type Infer<S> = S extends Schema<infer T> ? T : never

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') {
    // a password in a URL is hidden before the value is cut, so no part of it shows
    const shown = redact(value)
    return JSON.stringify(shown.length > 40 ? `${shown.slice(0, 40)}...` : shown)
  }
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${String(value)}`
}

function fail(path: string, expected: string, value: unknown): never {
  if (value === undefined) throw new SchemaError(path, `${path || 'the config'}: missing (expected ${expected})`)
  throw new SchemaError(path, `${path || 'the config'}: expected ${expected}, got ${describe(value)}`)
}

const primitive = <T>(expected: string, test: (v: unknown) => boolean): Schema<T> => ({
  expected,
  check: (value, path) => (test(value) ? (value as T) : fail(path, expected, value)),
})

export const string = (): Schema<string> => primitive('a string', (v) => typeof v === 'string')
export const boolean = (): Schema<boolean> => primitive('true or false', (v) => typeof v === 'boolean')
export const integer = (min = -Infinity, max = Infinity): Schema<number> =>
  primitive(`a whole number${min > -Infinity ? ` from ${min}` : ''}${max < Infinity ? ` to ${max}` : ''}`, (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max)

export function oneOf<const T extends readonly string[]>(choices: T): Schema<T[number]> {
  return primitive(`one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`, (v) => choices.includes(v as string))
}

export function array<T>(item: Schema<T>): Schema<T[]> {
  return {
    expected: `a list of ${item.expected}`,
    check: (value, path) => (Array.isArray(value) ? value.map((v, i) => item.check(v, `${path}[${i}]`)) : fail(path, `a list`, value)),
  }
}

export function record<T>(item: Schema<T>): Schema<Record<string, T>> {
  return {
    expected: `an object of ${item.expected}`,
    check: (value, path) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'an object', value)
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, item.check(v, join(path, k))]))
    },
  }
}

export interface Optional<T> extends Schema<T | undefined> {
  readonly optional: true
}
export function optional<T>(inner: Schema<T>): Optional<T> {
  return { expected: inner.expected, optional: true, check: (value, path) => (value === undefined ? undefined : inner.check(value, path)) }
}

type Shape = Record<string, Schema<unknown>>
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends Optional<unknown> ? K : never }[keyof S]
export type ObjectOf<S extends Shape> = { -readonly [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & {
  -readonly [K in OptionalKeys<S>]?: Infer<S[K]>
}

/** An object with exactly these keys: an unknown key is an error naming the closest known one. */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> & { shape: S } {
  return {
    shape,
    expected: 'an object',
    check: (value, path) => {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(path, 'an object', value)
      const out: Record<string, unknown> = {}
      for (const key of Object.keys(value)) {
        if (!(key in shape)) {
          throw new SchemaError(join(path, key), `unknown key ${join(path, key)}${didYouMean(key, Object.keys(shape))}`)
        }
      }
      for (const [key, schema] of Object.entries(shape)) {
        const checked = schema.check((value as Record<string, unknown>)[key], join(path, key))
        if (checked !== undefined) out[key] = checked
      }
      return out as ObjectOf<S>
    },
  }
}

/** A value that must satisfy an extra rule (a name Docker accepts, a URL scheme we know...). */
export function refine<T>(inner: Schema<T>, expected: string, test: (v: T) => boolean): Schema<T> {
  return {
    expected,
    check: (value, path) => {
      const checked = inner.check(value, path)
      return test(checked) ? checked : fail(path, expected, value)
    },
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key
}
