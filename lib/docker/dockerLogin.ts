// The user's `docker login` for a registry, read as the docker CLI reads it: a credential
// helper named for the registry (credHelpers), then the stored `auths` entry, then the
// default store (credsStore). Used for the registry API (lib/registry) and for pulls through
// the engine's API (lib/docker/docker.ts), which must send what the CLI would have sent.
import { readFile } from 'node:fs/promises'
import { run } from '../util/exec.js'
import { UserError, errorMessage } from '../util/errors.js'
import { dockerConfigFile } from './dockerContext.js'

export interface Credentials {
  username: string
  password: string
}

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>
  credHelpers?: Record<string, string>
  credsStore?: string
}

/** Ask `docker-credential-<helper> get` for a registry's credentials (secret on stdin/stdout only). */
async function credentialHelper(helper: string, server: string): Promise<Credentials | undefined> {
  try {
    const result = await run(`docker-credential-${helper}`, ['get'], { input: server, allowFailure: true })
    if (result.exitCode !== 0) return undefined
    const parsed = JSON.parse(result.stdout) as { Username: string; Secret: string }
    return { username: parsed.Username, password: parsed.Secret }
  } catch {
    return undefined // no such helper, or not its JSON: no login, as for the CLI
  }
}

/** The user's docker login for `host`, if any. */
export async function dockerCredentials(host: string, env: NodeJS.ProcessEnv = process.env): Promise<Credentials | undefined> {
  const file = dockerConfigFile(env)
  let config: DockerConfigFile
  try {
    config = JSON.parse(await readFile(file, 'utf8')) as DockerConfigFile
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new UserError(`cannot read the docker config ${file}: ${errorMessage(error)}`)
  }
  const names = [host, `https://${host}`, `http://${host}`, ...(host === 'docker.io' ? ['https://index.docker.io/v1/'] : [])]
  for (const name of names) {
    const helper = config.credHelpers?.[name]
    if (helper) return credentialHelper(helper, name)
  }
  for (const name of names) {
    const entry = config.auths?.[name]
    if (!entry) continue
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
    }
    if (entry.username && entry.password) return { username: entry.username, password: entry.password }
  }
  if (config.credsStore) return credentialHelper(config.credsStore, host)
  return undefined
}
