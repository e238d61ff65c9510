// What a casa.config.ts calls, in a module of its own without the loader: the public entry
// (lib/index.ts) exports it, and task files import that entry, which `help` loads for every
// task; the loader (config.ts, esbuild, the schema) is loaded when a config is read.
import type { ConfigEnv, UserConfig } from './configSchema.js'

export type ConfigExport = UserConfig | ((env: ConfigEnv) => UserConfig | Promise<UserConfig>)

/** Identity function giving editor completion and type checking in casa.config.ts. */
export function defineConfig<T extends ConfigExport>(config: T): T {
  return config
}

/** Objects merge key by key; arrays and scalars from `over` replace those of `base`. */
export function mergeConfig<T>(base: T, over: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(over)) return (over === undefined ? base : over) as T
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(over)) {
    if (value !== undefined) out[key] = mergeConfig(out[key], value)
  }
  return out as T
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
