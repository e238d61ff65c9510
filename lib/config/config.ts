// The configuration, loaded and validated once per run: builtin defaults (../casa.config.ts)
// with the user's casa.config.ts deep-merged over them, then every path made absolute.
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { UserError } from '../util/errors.js'
import { isJavaScriptConfig, loadConfigModule } from './configFile.js'
import { explicitRepository, findConfigFile, type LoadOptions } from './configLocation.js'
import { withinConfigDeadline } from './configDeadline.js'
import { freshEntry, markProvenBundle } from './configCache.js'
import { configSchema, type CasaConfig, type ConfigEnv, type UserConfig } from './configSchema.js'
import { expandHome, home, packageRoot } from '../util/paths.js'
import { SchemaError } from './schema.js'
import { isPlainObject, mergeConfig } from './defineConfig.js'

export type { CasaConfig, ConfigEnv, UserConfig } from './configSchema.js'

export { defineConfig, mergeConfig, type ConfigExport } from './defineConfig.js'

/** The configuration a task sees: validated, with the repository and search path absolute. */
export interface ResolvedConfig extends CasaConfig {
  repository: string
  /** The user's config file, if one was found. */
  configFile?: string
}

export { findConfigFile, type LoadOptions } from './configLocation.js'

async function evaluate(exported: unknown, env: ConfigEnv, file: string): Promise<unknown> {
  let value = exported
  if (typeof exported === 'function') {
    // A config function that throws (a required environment variable unset, say) is the
    // user's error: one line naming the file, not a stack trace.
    try {
      value = await exported(env)
    } catch (error) {
      throw new UserError(`${file}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`)
    }
  }
  if (!isPlainObject(value)) throw new UserError(`${file}: the default export must be an object or defineConfig(...)`)
  return value
}

/**
 * Run `read` over the values of the user's config: what it throws there (a getter, a Proxy, a
 * toJSON of its own) is the config's doing, reported as one line naming the file.
 */
async function readingUserValues<T>(file: string, read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (error) {
    if (error instanceof UserError) throw error
    throw new UserError(`${file}: reading the configuration threw: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`)
  }
}

export async function loadConfig(options: LoadOptions = {}): Promise<ResolvedConfig> {
  const repositoryOverride = explicitRepository(options)
  const builtinFile = join(packageRoot, 'casa.config.ts')
  const env = (configDir: string): ConfigEnv => ({ repository: repositoryOverride, home: home(), configDir })
  const builtinModule = await import(pathToFileURL(join(packageRoot, 'dist', 'casa.config.js')).href)
  let merged = await evaluate(builtinModule.default, env(packageRoot), builtinFile)

  const configFile = findConfigFile(options)
  if (configFile) {
    const builtin = merged
    // A config whose cached bundle loaded within the bound before, as a plain object, loads
    // without the watchdog thread; the first load after any change has it.
    // the cache entry is read (every input hashed) once, for both questions
    const cached = { entry: isJavaScriptConfig(configFile) ? undefined : freshEntry(configFile, packageRoot) }
    const proven = cached.entry?.proven === true
    let plainObject = false
    merged = await withinConfigDeadline(
      configFile,
      async () => {
        const userModule = await loadConfigModule(configFile, cached)
        plainObject = isPlainObject(userModule.default)
        return readingUserValues(configFile, async () => mergeConfig(builtin, await evaluate(userModule.default, env(resolve(configFile, '..')), configFile)))
      },
      { watchdog: !proven },
    )
    // a config function may loop on what it is given (the repository, the environment): not proven
    if (!proven && plainObject) markProvenBundle(configFile, packageRoot)
  }

  let config: CasaConfig
  try {
    config = configSchema.check(merged, '')
  } catch (error) {
    if (error instanceof SchemaError) throw new UserError(`${configFile ?? builtinFile}: ${error.message}`)
    throw error
  }
  return resolvePaths(config, repositoryOverride, configFile)
}

function resolvePaths(config: CasaConfig, repositoryOverride: string | undefined, configFile: string | undefined): ResolvedConfig {
  const repository = repositoryOverride ?? resolve(expandHome(config.repository ?? '~/casa_distro'))
  const expand = (path: string) =>
    resolve(expandHome(path.replaceAll('{repository}', repository).replaceAll('{builtin}', packageRoot)))
  return {
    ...config,
    repository,
    imageSearchPath: config.imageSearchPath.map(expand),
    taskSearchPath: config.taskSearchPath.map(expand),
    ssh: {
      ...config.ssh,
      identityFile: config.ssh.identityFile && expand(config.ssh.identityFile),
      knownHosts: config.ssh.knownHosts && expand(config.ssh.knownHosts),
    },
    singularity: { ...config.singularity, keyring: config.singularity.keyring && expand(config.singularity.keyring) },
    ...(configFile ? { configFile } : {}),
  }
}
