// The config part of the public entry (lib/index.ts), light: defineConfig and mergeConfig
// as they are, loadConfig importing the loader (config.ts, the schema) on its first call.
import type { LoadOptions } from './configLocation.js'
import type { ResolvedConfig } from './config.js'

export { defineConfig, mergeConfig } from './defineConfig.js'

/** The configuration, loaded and validated as the tasks see it. */
export async function loadConfig(options: LoadOptions = {}): Promise<ResolvedConfig> {
  return (await import('./config.js')).loadConfig(options)
}
