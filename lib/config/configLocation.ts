// Where the config comes from, decided before any config is read, in a module of its own:
// the dispatcher asks it whether there is a user config at all, and when there is none it
// needs no config module loaded to know where tasks are (`help` stays fast).
import { existsSync, lstatSync, readlinkSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { UserError } from '../util/errors.js'
import { expandHome, home, packageRoot } from '../util/paths.js'

export interface LoadOptions {
  /** --config */
  configFile?: string
  /** --repository */
  repository?: string
}

/** The repository chosen before any config is read: --repository, then $CASA_DEFAULT_REPOSITORY. */
export function explicitRepository(options: LoadOptions): string | undefined {
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


/**
 * The builtin config's taskSearchPath, as casa.config.ts writes it (a test keeps them equal),
 * for a run without a user config.
 */
export const builtinTaskSearchPath = ['{repository}/tasks', '~/.config/casa-distro/tasks', '{builtin}/tasks']

/** `{repository}`, `{builtin}` and `~` expanded, as every path of the config is. */
export function expandConfigPath(path: string, repository: string): string {
  return resolve(expandHome(path.replaceAll('{repository}', repository).replaceAll('{builtin}', packageRoot)))
}

/** The repository of a run without a user config: --repository, $CASA_DEFAULT_REPOSITORY, then the builtin ~/casa_distro. */
export function defaultRepository(options: LoadOptions): string {
  return explicitRepository(options) ?? resolve(home(), 'casa_distro')
}
