// The Docker engine, through the docker CLI as the user has it set up: DOCKER_HOST,
// DOCKER_CONTEXT, credential helpers and `docker login` all apply. `docker.host` in the
// config points every command at another engine. Only this module runs `docker`; listing,
// inspecting and pulling images, and the container calls of a SIF conversion (create,
// export, remove), go to the engine's API instead where it is the local socket the CLI
// would use (lib/docker/dockerEngine.ts), with the same answers, messages and logins: a
// no-op create_docker then starts no process.
import type { ChildProcess } from 'node:child_process'
import { Readable } from 'node:stream'
import { dockerContext } from './dockerContext.js'
import { EngineError, engineCall, enginePull, engineStream, localEngineSocket, pingEngine } from './dockerEngine.js'
import { dockerCredentials } from './dockerLogin.js'
import { engineSilence, type EngineSilence } from './engineWatch.js'
import { UserError, errorMessage } from '../util/errors.js'
import { redact } from '../util/redact.js'
import { CommandError, lastLines, run, start, type RunOptions, type RunResult } from '../util/exec.js'
import { ui } from '../util/ui.js'

export interface DockerOptions {
  /** config.docker.host: passed as DOCKER_HOST. */
  host?: string
}

let engine: DockerOptions = {}

/** Point every later docker command at this engine (from the config, once per run). */
export function useDockerEngine(options: DockerOptions): void {
  // An empty docker.host is unset, as the CLI takes an empty DOCKER_HOST: DOCKER_HOST and the
  // contexts then apply, to the CLI's calls and to the choice of the engine API alike.
  engine = { ...options, host: options.host || undefined }
}

/**
 * The one message for an engine that does not answer, where it was looked for and what to
 * do, from what the CLI (or the socket) said; undefined when `said` is about something else
 * (a missing image, a registry refusing a push). Docker's own words ("Is the docker daemon
 * running?") do not say that config docker.host is where the address came from.
 */
export function engineUnreachable(said: string): UserError | undefined {
  const down = /Cannot connect to the Docker daemon at (\S+?)\.? Is the docker daemon running/.exec(said)
  // "Failed to initialize:": the CLI could not even set up its client (a DOCKER_CONTEXT that
  // does not exist, an ssh:// address holding a password).
  const other = /^.*(?:trying to connect to the Docker daemon socket|^error during connect:|^Failed to initialize:).*$/m.exec(said)
  if (!down && !other) return undefined
  const where = down?.[1] ?? engineAddress()
  const remedy = engine.host ? 'start dockerd (or change docker.host in the configuration)' : 'start dockerd (or set DOCKER_HOST)'
  return new UserError(redact(`no Docker engine answers at ${where}: ${down ? remedy : other![0].trim()}`))
}

/**
 * Where docker commands go, for messages: a password in the URL masked (docker refuses or
 * ignores one, without repeating it; neither do we).
 */
function engineAddress(): string {
  const { DOCKER_HOST } = process.env
  // A context (DOCKER_CONTEXT or `docker context use`) is where the CLI takes the address from
  // when DOCKER_HOST is not set: the default socket is not where it looked.
  const named = engine.host ? undefined : dockerContext()
  const context = named ? `docker context ${named}` : undefined
  return redact(engine.host ?? (DOCKER_HOST || undefined) ?? context ?? 'unix:///var/run/docker.sock')
}

function dockerEnv(): NodeJS.ProcessEnv {
  return engine.host ? { ...process.env, DOCKER_HOST: engine.host } : process.env
}

/**
 * The watch over this run's engine (engineWatch.ts): asked on its socket where the API can
 * be used, else with `docker version` as the CLI has it set up.
 */
function silence(): EngineSilence {
  const socket = engineSocket()
  if (socket) return engineSilence(`unix://${socket}`, (signal) => pingEngine(socket, signal))
  return engineSilence(engineAddress(), (signal) =>
    run('docker', ['version', '--format', '{{.Server.Version}}'], { env: dockerEnv(), signal, allowFailure: true }).then(
      () => undefined,
      () => undefined,
    ),
  )
}

/** `signal` and the engine's silence, either of which ends a call. */
function endedBy(watch: EngineSilence, signal: AbortSignal | undefined): AbortSignal {
  return signal ? AbortSignal.any([signal, watch.signal]) : watch.signal
}

/** An API call that ends with the one line of a silent engine when the engine never answers. */
function api<T>(call: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
  const watch = silence()
  return Promise.race([call(endedBy(watch, signal)), watch.silent])
}

/**
 * Run `docker <args>` through zx's `$` (exec.run), as every captured command: echoed with -v,
 * output captured, ended on Ctrl-C and by the engine's silence; a failure throws a one-line
 * CommandError, an engine that does not answer the one line saying where it was looked for.
 * A no-op create_docker runs none (its calls go to the engine's API), so zx's import costs
 * only the runs that build, tag or push.
 */
export async function docker(args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const watch = silence()
  const ran = run('docker', args, { ...options, env: { ...dockerEnv(), ...options.env }, signal: endedBy(watch, options.signal), allowFailure: true })
  let result: RunResult
  try {
    result = await Promise.race([ran, watch.silent])
  } catch (error) {
    throw watch.signal.aborted ? watch.signal.reason : error
  }
  if (watch.signal.aborted) throw watch.signal.reason
  // Even where a failure is expected (an absent image), an engine that does not answer is not.
  const unreachable = result.exitCode !== 0 ? engineUnreachable(result.stderr) : undefined
  if (unreachable && !(await engineAnswers())) throw unreachable
  if (result.exitCode !== 0 && !options.allowFailure) throw new CommandError(['docker', ...args], result)
  return result
}

/**
 * Whether the engine answers `docker version` after all. What a command printed can hold
 * docker's own words without the engine being down: a build step that runs docker, or echoes
 * its message, fails the build with that output on stderr (the legacy builder repeats the
 * step's command there, newlines included). Asked only when the words were seen.
 */
function engineAnswers(): Promise<boolean> {
  return run('docker', ['version', '--format', '{{.Server.Version}}'], { env: dockerEnv(), allowFailure: true }).then(
    (result) => result.exitCode === 0,
    () => false,
  )
}

/** Start `docker <args>` with its streams piped to the caller (docker export). */
function dockerStream(args: readonly string[], watch: EngineSilence): ChildProcess {
  return start('docker', args, { env: dockerEnv(), stdio: ['ignore', 'pipe', 'pipe'], signal: watch.signal })
}

// The socket decision reads the CLI's configuration: made once per setup, not per call.
let socketChoice: { key: string; socket: string | undefined } | undefined

/** The engine's socket when the API can be used directly. */
function engineSocket(): string | undefined {
  const { DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG } = process.env
  const key = JSON.stringify([engine.host, DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG])
  if (socketChoice?.key !== key) socketChoice = { key, socket: localEngineSocket(engine.host) }
  return socketChoice.socket
}

/** The engine's socket when the API can be used directly; echoes what the CLI would have run. */
function viaApi(argv: readonly string[]): string | undefined {
  const socket = engineSocket()
  if (socket) {
    ui.command(argv)
    ui.debug(`  (through the engine API at unix://${socket})`)
  }
  return socket
}

/** What the CLI would have said of an API failure. */
function apiSaid(socket: string, error: unknown): string {
  return error instanceof EngineError ? `Error response from daemon: ${error.message}` : `Cannot connect to the Docker daemon at unix://${socket}. Is the docker daemon running? (${(error as Error).message})`
}

/** An API failure as the CLI's would be. */
function apiFailure(argv: readonly string[], socket: string, error: unknown): UserError {
  if (error instanceof UserError) return error // the engine's silence, said already
  const said = apiSaid(socket, error)
  return engineUnreachable(said) ?? new CommandError(argv, { exitCode: 1, stdout: '', stderr: said })
}

/** `docker create --entrypoint <entrypoint> [--label k=v]... <reference>`: the new container's id. */
export async function createContainer(reference: string, entrypoint: string, labels: Record<string, string> = {}): Promise<string> {
  const argv = ['create', '--entrypoint', entrypoint, ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), reference]
  const socket = viaApi(['docker', ...argv])
  if (!socket) return (await docker(argv)).stdout.trim().split('\n').pop()!
  try {
    return (await api((signal) => engineCall<{ Id: string }>(socket, 'POST', '/containers/create', { Image: reference, Entrypoint: [entrypoint], Labels: labels }, signal)))!.Id
  } catch (error) {
    throw apiFailure(['docker', ...argv], socket, error)
  }
}

/** `docker ps -a --filter label=<label>`: every container bearing `label`, with its value. */
export async function containersLabelled(label: string): Promise<{ id: string; value: string }[]> {
  const argv = ['ps', '-a', '--no-trunc', '--filter', `label=${label}`, '--format', `{{.ID}} {{.Label ${JSON.stringify(label)}}}`]
  const socket = viaApi(['docker', ...argv])
  if (!socket) {
    return (await docker(argv)).stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => ({ id: line.slice(0, line.indexOf(' ')), value: line.slice(line.indexOf(' ') + 1) }))
  }
  const filters = encodeURIComponent(JSON.stringify({ label: [label] }))
  try {
    const found = await api((signal) => engineCall<{ Id: string; Labels?: Record<string, string> }[]>(socket, 'GET', `/containers/json?all=1&filters=${filters}`, undefined, signal))
    return (found ?? []).map((c) => ({ id: c.Id, value: c.Labels?.[label] ?? '' }))
  } catch (error) {
    throw apiFailure(['docker', ...argv], socket, error)
  }
}

export interface ExportStream {
  stream: Readable
  /** Resolves once the export is over: undefined when it came whole, else why not. */
  done: Promise<string | undefined>
  stop(): void
}

/** `docker export <container>` as a stream; a failure, even at the start, is said by `done`, as the CLI's exit says it. */
export function exportContainer(container: string): Promise<ExportStream> {
  return dockerTarStream(['export', container], `/containers/${encodeURIComponent(container)}/export`)
}

/**
 * `docker save <image>` as a stream (the engine's image export: the image's layers as they
 * are, without a container's init layer), said as exportContainer says its failures.
 */
export function saveImage(image: string): Promise<ExportStream> {
  return dockerTarStream(['save', image], `/images/${encodeURIComponent(image)}/get`)
}

async function dockerTarStream(argv: string[], apiPath: string): Promise<ExportStream> {
  const socket = viaApi(['docker', ...argv])
  if (socket) {
    try {
      return await api((signal) => engineStream(socket, apiPath, signal))
    } catch (error) {
      if (error instanceof UserError) throw error // the engine's silence
      return { stream: Readable.from([]), done: Promise.resolve(apiSaid(socket, error)), stop: () => {} }
    }
  }
  const watch = silence()
  const child = dockerStream(argv, watch)
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const done = new Promise<string | undefined>((resolve) => {
    const said = (fallback: string) => (watch.signal.aborted ? (watch.signal.reason as Error).message : fallback)
    child.once('error', (error) => resolve(said(error.message)))
    child.once('close', (code, signal) => resolve(code === 0 ? undefined : said(lastLines(stderr, 1) || `exit ${code ?? signal}`)))
  })
  return { stream: child.stdout!, done, stop: () => child.kill('SIGKILL') }
}

/**
 * `docker rm -f -v <container>`, best effort (a container already gone is no error). With
 * its anonymous volumes: an image declaring a VOLUME gets one at `docker create`, and
 * without -v every conversion would leave one behind.
 */
export async function removeContainer(container: string): Promise<void> {
  const argv = ['rm', '-f', '-v', container]
  const socket = viaApi(['docker', ...argv])
  if (!socket) return void (await docker(argv, { allowFailure: true }))
  await api((signal) => engineCall(socket, 'DELETE', `/containers/${encodeURIComponent(container)}?force=1&v=1`, undefined, signal)).catch(() => undefined)
}

/** Fail early, with one line, when no engine answers. */
export async function checkEngine(): Promise<void> {
  const result = await docker(['version', '--format', '{{.Server.Version}}'], { allowFailure: true })
  if (result.exitCode !== 0) {
    const said = result.stderr.trim().split('\n').pop() ?? ''
    throw new UserError(`no Docker engine answers at ${engineAddress()}: ${redact(said)}`)
  }
}

export interface ImageInfo {
  Id: string
  RepoTags: string[] | null
  RepoDigests: string[] | null
  Architecture: string
  Os: string
  Created: string
  Size: number
  /** Where the engine keeps the layers (overlay2: their directories), when it says. */
  GraphDriver?: { Name?: string; Data?: Record<string, string> | null }
  Config: {
    Env?: string[] | null
    Entrypoint?: string[] | null
    Cmd?: string[] | null
    Labels?: Record<string, string> | null
    WorkingDir?: string
    User?: string
  }
}

/** `docker image inspect`, or undefined when the image is not present locally. */
export async function inspectImage(reference: string): Promise<ImageInfo | undefined> {
  const argv = ['docker', 'image', 'inspect', reference]
  const socket = /^[\w./:@-]+$/.test(reference) ? viaApi(argv) : undefined
  if (socket) {
    try {
      return await api((signal) => engineCall<ImageInfo>(socket, 'GET', `/images/${reference}/json`, undefined, signal))
    } catch (error) {
      if (error instanceof EngineError && error.status === 404) return undefined
      throw apiFailure(argv, socket, error)
    }
  }
  const result = await docker(argv.slice(1), { allowFailure: true })
  if (result.exitCode !== 0) return undefined
  return (JSON.parse(result.stdout) as ImageInfo[])[0]
}

export interface LocalImage {
  repository: string
  tag: string
  id: string
}

/** Local images as `docker images` lists them (one entry per repository:tag). */
export async function listLocalImages(): Promise<LocalImage[]> {
  const argv = ['docker', 'image', 'ls', '--no-trunc']
  const socket = viaApi(argv)
  if (socket) {
    let images: { Id: string; RepoTags?: string[] | null; RepoDigests?: string[] | null }[]
    try {
      images = (await api((signal) => engineCall<typeof images>(socket, 'GET', '/images/json', undefined, signal))) ?? []
    } catch (error) {
      throw apiFailure(argv, socket, error)
    }
    return images.flatMap(({ Id: id, RepoTags: tags, RepoDigests: digests }) => {
      const named = (tags ?? []).filter((t) => t !== '<none>:<none>')
      if (named.length) return named.map((t) => ({ repository: t.slice(0, t.lastIndexOf(':')), tag: t.slice(t.lastIndexOf(':') + 1), id }))
      // untagged: listed as <none> under the repository of its digest, if it has one
      return [{ repository: digests?.[0]?.split('@')[0] ?? '<none>', tag: '<none>', id }]
    })
  }
  const result = await docker(['image', 'ls', '--no-trunc', '--format', '{{.Repository}}\t{{.Tag}}\t{{.ID}}'])
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [repository = '', tag = '', id = ''] = line.split('\t')
      return { repository, tag, id }
    })
}

/** Docker's short form of a reference: `docker.io/library/x` -> `x`, no tag -> `:latest`. */
export function normalizeReference(reference: string): string {
  let ref = reference.replace(/^(?:docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '').replace(/^library\//, '')
  if (!ref.includes('@') && !/:[^/]+$/.test(ref)) ref += ':latest'
  return ref
}

/** Whether `docker image inspect` failed only because some of the images are absent. */
function onlyAbsentImages(stderr: string): boolean {
  // docker's own WARNING lines are no failure: a config.json it cannot read (malformed, a
  // directory) is warned about, then the defaults apply and the inspection is done as usual.
  const lines = stderr.split('\n').filter((line) => line.trim() !== '' && !/^WARNING: /.test(line))
  return lines.length > 0 && lines.every((line) => /^(?:Error response from daemon: |Error: )?(?:no such (?:image|object)\b|invalid reference format)/i.test(line))
}

/**
 * `docker image inspect` of many references in one call: reference -> image, absent ones left
 * out. (One process instead of one per image keeps planning a large catalog fast.)
 */
export async function inspectImages(references: readonly string[]): Promise<Map<string, ImageInfo>> {
  const found = new Map<string, ImageInfo>()
  const unique = [...new Set(references)]
  if (unique.length === 0) return found
  // Absent images are expected here; an engine that does not answer is not (docker() throws),
  // nor any other failure (a docker context that does not exist, a config docker cannot
  // read): read as "absent", it would call built images "not built".
  const argv = ['image', 'inspect', ...unique]
  // Through the API (one request per image, at once) where the CLI would use the local socket:
  // a no-op create_docker then starts no docker process at all.
  const socket = unique.every((reference) => /^[\w./:@-]+$/.test(reference)) ? viaApi(['docker', ...argv]) : undefined
  if (socket) {
    const answers = await Promise.all(
      unique.map(async (reference) => {
        try {
          return await api((signal) => engineCall<ImageInfo>(socket, 'GET', `/images/${reference}/json`, undefined, signal))
        } catch (error) {
          if (error instanceof EngineError && error.status === 404) return undefined
          throw apiFailure(['docker', ...argv], socket, error)
        }
      }),
    )
    unique.forEach((reference, i) => answers[i] && found.set(reference, answers[i]))
    return found
  }
  const result = await docker(argv, { allowFailure: true })
  if (result.exitCode !== 0 && !onlyAbsentImages(result.stderr)) throw new CommandError(['docker', ...argv], result)
  let infos: ImageInfo[] = []
  try {
    infos = JSON.parse(result.stdout || '[]') as ImageInfo[]
  } catch {
    infos = []
  }
  const byName = new Map<string, ImageInfo>()
  for (const info of infos) {
    for (const tag of info.RepoTags ?? []) byName.set(normalizeReference(tag), info)
    for (const digest of info.RepoDigests ?? []) byName.set(normalizeReference(digest), info)
    byName.set(info.Id, info)
  }
  for (const reference of unique) {
    const info = byName.get(normalizeReference(reference)) ?? byName.get(reference)
    if (info) found.set(reference, info)
  }
  return found
}

/** `docker pull`; the result says whether it worked and, if not, docker's last words. */
export async function pullImage(reference: string, signal?: AbortSignal): Promise<{ ok: boolean; message: string }> {
  const argv = ['docker', 'pull', '--quiet', reference]
  const socket = viaApi(argv)
  if (!socket) {
    const result = await docker(argv.slice(1), { allowFailure: true, signal })
    return { ok: result.exitCode === 0, message: lastLine(result.stderr || result.stdout) }
  }
  // Through the API, as the CLI would pull it: no process to start, which was most of a
  // no-op create_docker's time after node's own start (its base images are pulled each run).
  const { name, tag, registry } = pullTarget(reference)
  // A config.json docker cannot read: docker warns and pulls without a login; so do we.
  const login = await dockerCredentials(registry).catch((error: unknown) => {
    ui.warn(`${errorMessage(error)}: pulling ${reference} without a login`)
    return undefined
  })
  // base64url with its padding, as the engine decodes it (Go's URLEncoding)
  const auth = login && Buffer.from(JSON.stringify({ username: login.username, password: login.password, serveraddress: registry })).toString('base64').replace(/\+/g, '-').replace(/\//g, '_')
  try {
    const error = await api((ended) => enginePull(socket, name, tag, auth, ended), signal)
    return { ok: error === undefined, message: error ?? '' }
  } catch (error) {
    if (signal?.aborted) throw signal.reason
    if (error instanceof EngineError) return { ok: false, message: apiSaid(socket, error) }
    throw apiFailure(argv, socket, error)
  }
}

/**
 * What the CLI asks the engine to pull for `reference`: the name, the tag (or digest; latest
 * when there is neither: no tag would pull every tag) and the registry whose login applies.
 */
export function pullTarget(reference: string): { name: string; tag: string; registry: string } {
  const at = reference.indexOf('@')
  let name = at >= 0 ? reference.slice(0, at) : reference
  let tag = at >= 0 ? reference.slice(at + 1) : 'latest'
  const colon = name.lastIndexOf(':')
  if (colon > name.lastIndexOf('/')) {
    if (at < 0) tag = name.slice(colon + 1)
    name = name.slice(0, colon)
  }
  const first = name.split('/')[0]!
  const registry = name.includes('/') && (/[.:]/.test(first) || first === 'localhost') ? first : 'docker.io'
  return { name, tag, registry }
}

function lastLine(text: string): string {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? ''
}

/**
 * Remove the images among `ids` that no tag names any more (superseded builds, old bases,
 * old pushes). Returns the ids still needed as the parent of another image, to retry later;
 * an image a container uses stays.
 */
export async function removeUntagged(ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return []
  const blocked: string[] = []
  const still = await inspectImages(ids)
  for (const id of ids) {
    const info = still.get(id)
    if (!info || (info.RepoTags ?? []).length > 0) continue
    const result = await docker(['image', 'rm', id], { allowFailure: true })
    if (result.exitCode === 0) ui.debug(`removed superseded image ${id.replace(/^sha256:/, '').slice(0, 12)}`)
    else if (/dependent child images/.test(result.stderr)) blocked.push(id)
  }
  return blocked
}
