// The configuration, loaded and validated once per run: builtin defaults (../casa.config.ts)
// with the user's casa.config.ts deep-merged over them, then every path made absolute.
import { existsSync, lstatSync, readlinkSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { UserError } from '../util/errors.js'
import { loadConfigModule } from './configFile.js'
import { withinConfigDeadline } from './configDeadline.js'
import { configSchema, type CasaConfig, type ConfigEnv, type UserConfig } from './configSchema.js'
import { expandHome, home, packageRoot } from '../util/paths.js'
import { SchemaError } from './schema.js'

export type { CasaConfig, ConfigEnv, UserConfig } from './configSchema.js'

export type ConfigExport = UserConfig | ((env: ConfigEnv) => UserConfig | Promise<UserConfig>)

/** Identity function giving editor completion and type checking in casa.config.ts. */
export function defineConfig<T extends ConfigExport>(config: T): T {
  return config
}

/** The configuration a task sees: validated, with the repository and search path absolute. */
export interface ResolvedConfig extends CasaConfig {
  repository: string
  /** The user's config file, if one was found. */
  configFile?: string
}

export interface LoadOptions {
  /** --config */
  configFile?: string
  /** --repository */
  repository?: string
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

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The repository chosen before any config is read: --repository, then $CASA_DEFAULT_REPOSITORY. */
function explicitRepository(options: LoadOptions): string | undefined {
  const chosen = options.repository ?? process.env.CASA_DEFAULT_REPOSITORY
  return chosen ? resolve(expandHome(chosen)) : undefined
}

/** First found wins: --config, $CASA_CONFIG, <repository>/casa.config.ts, ~/.config/casa-distro/casa.config.ts. */
export function findConfigFile(options: LoadOptions): string | undefined {
  const named = options.configFile ?? process.env.CASA_CONFIG
  if (named) {
    const file = resolve(expandHome(named))
    if (!existsSync(file)) throw new UserError(`config file not found: ${file}${brokenLink(file)}`)
    if (statSync(file).isDirectory()) throw new UserError(`config file ${file} is a directory: name the casa.config.ts in it`)
    return file
  }
  const repository = explicitRepository(options) ?? join(home(), 'casa_distro')
  const candidates = [join(repository, 'casa.config.ts'), join(home(), '.config', 'casa-distro', 'casa.config.ts')]
  // A candidate that is there but cannot be read (a broken symbolic link) is a mistake to
  // report: skipping it would run with the next config, or the builtin production hubs.
  for (const file of candidates) {
    const broken = brokenLink(file)
    if (broken) throw new UserError(`config file ${file}${broken}`)
    if (existsSync(file)) return file
  }
  return undefined
}

/** ` is a symbolic link to X, which does not exist` when `file` is one; '' otherwise. */
function brokenLink(file: string): string {
  try {
    if (!lstatSync(file).isSymbolicLink() || existsSync(file)) return ''
    return ` is a symbolic link to ${readlinkSync(file)}, which does not exist`
  } catch {
    return ''
  }
}

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
    merged = await withinConfigDeadline(configFile, async () => {
      const userModule = await loadConfigModule(configFile)
      return readingUserValues(configFile, async () => mergeConfig(builtin, await evaluate(userModule.default, env(resolve(configFile, '..')), configFile)))
    })
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
    ssh: {
      ...config.ssh,
      identityFile: config.ssh.identityFile && expand(config.ssh.identityFile),
      knownHosts: config.ssh.knownHosts && expand(config.ssh.knownHosts),
    },
    ...(configFile ? { configFile } : {}),
  }
}
