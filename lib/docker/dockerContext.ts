// Which docker context the CLI takes its engine from, by the CLI's own order: DOCKER_HOST
// wins over any context, then DOCKER_CONTEXT, then the one chosen with `docker context use`
// (currentContext in $DOCKER_CONFIG/config.json, default ~/.docker/config.json). Read here
// once for both the choice of the engine API (dockerEngine.ts) and the messages saying where
// docker looked (docker.ts), so that the two cannot disagree.
import { readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

/** The context's name, or undefined when the CLI uses DOCKER_HOST or the default context. */
export function dockerContext(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.DOCKER_HOST) return undefined
  const named = env.DOCKER_CONTEXT || currentContext(env)
  return named && named !== 'default' ? named : undefined
}

/**
 * The docker CLI's config.json: in $DOCKER_CONFIG, else ~/.docker. Empty variables are unset,
 * as for the CLI: an empty DOCKER_CONFIG is not the current directory.
 */
export function dockerConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker'), 'config.json')
}

function currentContext(env: NodeJS.ProcessEnv): string | undefined {
  try {
    const config = JSON.parse(readFileSync(dockerConfigFile(env), 'utf8')) as { currentContext?: unknown }
    return typeof config.currentContext === 'string' ? config.currentContext : undefined
  } catch {
    // no CLI configuration (or an unreadable one: the CLI would say so): the default context
    return undefined
  }
}
