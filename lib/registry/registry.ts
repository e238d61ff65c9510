// The OCI distribution HTTP API, for pushes that are not docker images (SIF files as ORAS
// artifacts): credentials from the user's docker login (DOCKER_CONFIG or ~/.docker/config.json,
// credential helpers included), bearer-token or basic auth, blob upload with digest checks,
// manifest push. Plain http only for loopback registries.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { Transform, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { Agent, Dispatcher } from 'undici'
import { UserError, cannotRead, errorMessage } from '../util/errors.js'
import { dockerCredentials, type Credentials } from '../docker/dockerLogin.js'
import { checkedFileSource, fileIdentity } from './fileUpload.js'
import { envSeconds } from '../util/envSeconds.js'
import { printable, ui } from '../util/ui.js'
import { trustDeferredCaCertificates } from '../util/deferredCa.js'

// Where the registry client took them from before they served the engine's pulls too.
export { dockerCredentials, type Credentials }

/**
 * How long a registry may keep silent (to accept the connection, to start its answer, between
 * two pieces of it): CASA_REGISTRY_TIMEOUT seconds, 30 by default. undici's own defaults
 * (300 s for headers and for the body) leave a registry that took the connection and hung
 * holding a publish for ten minutes per request, which looks like forever. Uploads are not
 * limited in total: the wait for headers runs only while our body is not flowing, and the wait
 * for the answer to a blob upload is longer (commitWaitSeconds).
 */
export function registryTimeoutSeconds(env: NodeJS.ProcessEnv = process.env): number {
  // (the commit wait is ten times it: envSeconds' bound of a day keeps it within Node's timers)
  return envSeconds('CASA_REGISTRY_TIMEOUT', 30, UserError, env)
}

/** Seconds as the whole, non-zero milliseconds undici's timeouts take. */
const milliseconds = (seconds: number) => Math.min(2 ** 31 - 1, Math.max(1, Math.ceil(seconds * 1000)))

/**
 * How long a registry may take to answer the PUT that completes a blob upload, once the whole
 * blob was sent: ten times the timeout, plus a second per 10 MB. Registries check the digest
 * and move the blob into place before answering, and some storage drivers (S3) copy it then,
 * which takes minutes for GBs: the short limit would cut valid pushes of large SIF files.
 */
export function commitWaitSeconds(timeout: number, size: number): number {
  return 10 * timeout + Math.round(size / 10_000_000)
}

/**
 * `source` as it is read for an upload, failing with `stalled` when nothing of it was taken
 * for `seconds` before its end: the commit wait of the PUT carrying it must not also be how
 * long an upload may stand still. Reads follow the socket (undici waits for 'drain').
 */
function watchedUpload(source: NodeJS.ReadableStream, seconds: number, stalled: () => Error): Readable {
  // A chunk passes only when the one before it was taken (no 'data' listener here: it would
  // start the flow on its own, before undici listens, and lose what it saw).
  const watched = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk, _encoding, done) {
      timer.refresh()
      done(null, chunk)
    },
  })
  const timer = setTimeout(() => watched.destroy(stalled()), milliseconds(seconds))
  watched.once('end', () => clearTimeout(timer))
  watched.once('close', () => clearTimeout(timer))
  pipeline(source, watched).catch(() => undefined) // an error in either is the upload's, said by undici
  return watched
}

// undici is loaded on the first exchange, not with this module: the singularity entry imports
// it for publishing, and create_singularity paid its hundred-odd files at start-up.
let undici: Promise<typeof import('undici')> | undefined
// The launcher's deferred NODE_EXTRA_CA_CERTS are trusted before the first connection.
const loadUndici = () => (undici ??= (trustDeferredCaCertificates(), import('undici')))

// One connection pool per timeout (in practice one per run), shared by every client.
const agents = new Map<number, Promise<Agent>>()
function agentFor(seconds: number): Promise<Agent> {
  let agent = agents.get(seconds)
  if (!agent) {
    const ms = milliseconds(seconds)
    agent = loadUndici().then(({ Agent }) => new Agent({ headersTimeout: ms, bodyTimeout: ms, connect: { timeout: ms } }))
    agents.set(seconds, agent)
  }
  return agent
}

const timeoutCodes = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])
const isTimeout = (error: unknown) => timeoutCodes.has((error as { code?: string } | undefined)?.code ?? '')

export interface Descriptor {
  mediaType: string
  digest: string
  size: number
  annotations?: Record<string, string>
}

export interface Manifest {
  schemaVersion: 2
  mediaType: string
  artifactType?: string
  config: Descriptor
  layers: Descriptor[]
  annotations?: Record<string, string>
}

const manifestType = 'application/vnd.oci.image.manifest.v1+json'

/** One repository in one registry, with its authorization worked out on the first 401. */
export class RegistryClient {
  private authorization: string | undefined
  private readonly base: string
  private readonly timeout = registryTimeoutSeconds()
  private readonly dispatcher = () => agentFor(this.timeout)

  constructor(
    readonly host: string,
    readonly repository: string,
    private readonly credentials?: Credentials,
  ) {
    const plain = /^(localhost|127\.0\.0\.1|\[::1\])(:\d+)?$/.test(host)
    this.base = `${plain ? 'http' : 'https'}://${host}`
  }

  /**
   * Run one exchange with the registry; a silence longer than the timeout, while connecting,
   * waiting for an answer or reading it, becomes one line naming the registry.
   */
  private async answered<T>(exchange: () => Promise<T>): Promise<T> {
    try {
      return await exchange()
    } catch (error) {
      if (isTimeout(error)) throw new UserError(`registry ${this.host} did not answer within ${this.timeout} s`)
      throw error
    }
  }

  private async send(
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: Buffer | string | NodeJS.ReadableStream; retryAuth?: boolean; headersTimeout?: number } = {},
  ): Promise<Dispatcher.ResponseData> {
    const url = path.startsWith('http') ? path : `${this.base}${path}`
    const headers = { ...options.headers, ...(this.authorization ? { authorization: this.authorization } : {}) }
    const [{ request }, dispatcher] = await Promise.all([loadUndici(), this.dispatcher()])
    let response: Dispatcher.ResponseData
    try {
      response = await request(url, { method: method as 'GET', headers, body: options.body as Buffer, dispatcher, headersTimeout: options.headersTimeout })
    } catch (error) {
      if (isTimeout(error) || error instanceof UserError) throw error // said by answered(), or by an upload's watch
      throw new UserError(`registry ${this.host} unreachable: ${errorMessage(error)}`)
    }
    if (response.statusCode === 401 && options.retryAuth !== false && !(options.body && typeof options.body === 'object' && 'pipe' in options.body)) {
      const challenge = String(response.headers['www-authenticate'] ?? '')
      await response.body.dump()
      await this.authorize(challenge)
      return this.send(method, path, { ...options, retryAuth: false })
    }
    return response
  }

  /** Answer a WWW-Authenticate challenge: basic auth, or a bearer token from the realm. */
  private async authorize(challenge: string): Promise<void> {
    const basic = this.credentials ? `Basic ${Buffer.from(`${this.credentials.username}:${this.credentials.password}`).toString('base64')}` : undefined
    if (/^basic/i.test(challenge)) {
      if (!basic) throw new UserError(`registry ${this.host} needs a login: run docker login ${this.host}`)
      this.authorization = basic
      return
    }
    const params = Object.fromEntries([...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]))
    if (!params.realm) throw new UserError(`registry ${this.host} asked for an authentication it did not describe`)
    const url = new URL(params.realm)
    if (params.service) url.searchParams.set('service', params.service)
    url.searchParams.set('scope', `repository:${this.repository}:pull,push`)
    const [{ request }, dispatcher] = await Promise.all([loadUndici(), this.dispatcher()])
    const response = await request(url, { headers: basic ? { authorization: basic } : {}, dispatcher })
    if (response.statusCode !== 200) {
      await response.body.dump()
      throw new UserError(`registry ${this.host} refused the login${this.credentials ? '' : ` (no docker login for ${this.host})`}`)
    }
    const body = (await response.body.json()) as { token?: string; access_token?: string }
    this.authorization = `Bearer ${body.token ?? body.access_token}`
  }

  private async ensure(response: Dispatcher.ResponseData, what: string, expected: number[]): Promise<void> {
    if (expected.includes(response.statusCode)) return
    const text = (await response.body.text()).slice(0, 200).replace(/\s+/g, ' ')
    if (response.statusCode === 401 || response.statusCode === 403) throw new UserError(`registry ${this.host} refused ${what}: not allowed (check docker login ${this.host})`)
    throw new UserError(`registry ${this.host}: ${what} failed (HTTP ${response.statusCode}) ${text}`)
  }

  async hasBlob(digest: string): Promise<boolean> {
    return this.answered(async () => {
      const response = await this.send('HEAD', `/v2/${this.repository}/blobs/${digest}`)
      await response.body.dump()
      return response.statusCode === 200
    })
  }

  /** Upload a blob (monolithic PUT) unless the registry has it; the registry checks the digest. */
  async pushBlob(blob: { digest: string; size: number; open: () => NodeJS.ReadableStream | Buffer }): Promise<void> {
    return this.answered(async () => {
      if (await this.hasBlob(blob.digest)) return
      const start = await this.send('POST', `/v2/${this.repository}/blobs/uploads/`, { headers: { 'content-length': '0' } })
      await this.ensure(start, 'starting an upload', [202])
      await start.body.dump()
      const location = new URL(String(start.headers.location), this.base)
      location.searchParams.set('digest', blob.digest)
      const content = blob.open()
      const wait = commitWaitSeconds(this.timeout, blob.size)
      const stalled = () => new UserError(`registry ${this.host} stopped taking the upload of ${blob.digest} for ${this.timeout} s`)
      let put: Dispatcher.ResponseData
      try {
        put = await this.send('PUT', location.toString(), {
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
          body: Buffer.isBuffer(content) ? content : watchedUpload(content, this.timeout, stalled),
          headersTimeout: milliseconds(wait),
        })
      } catch (error) {
        if ((error as { code?: string }).code === 'UND_ERR_HEADERS_TIMEOUT') throw new UserError(`registry ${this.host} did not confirm the upload of ${blob.digest} within ${wait} s`)
        throw error
      }
      await this.ensure(put, `uploading ${blob.digest}`, [201])
      await put.body.dump()
      if (String(put.headers['docker-content-digest'] ?? blob.digest) !== blob.digest) throw new UserError(`registry ${this.host} stored ${blob.digest} under another digest`)
    })
  }

  /** The manifest at a tag or digest, or undefined. */
  async getManifest(reference: string): Promise<Manifest | undefined> {
    return this.answered(async () => {
      const response = await this.send('GET', `/v2/${this.repository}/manifests/${reference}`, { headers: { accept: manifestType } })
      if (response.statusCode === 404) {
        await response.body.dump()
        return undefined
      }
      await this.ensure(response, `reading ${this.repository}:${reference}`, [200])
      return (await response.body.json()) as Manifest
    })
  }

  /**
   * The digest the registry gives the manifest at `reference` (HEAD, docker or OCI, image or
   * index), or undefined when it has none: what `docker push` stored, to compare with RepoDigests.
   */
  async manifestDigest(reference: string): Promise<string | undefined> {
    return this.answered(async () => {
      const accept = [
        'application/vnd.docker.distribution.manifest.v2+json',
        'application/vnd.docker.distribution.manifest.list.v2+json',
        manifestType,
        'application/vnd.oci.image.index.v1+json',
      ].join(', ')
      const response = await this.send('HEAD', `/v2/${this.repository}/manifests/${reference}`, { headers: { accept } })
      await response.body.dump()
      if (response.statusCode === 404) return undefined
      if (response.statusCode !== 200) throw new UserError(`registry ${this.host}: reading the manifest of ${this.repository}:${reference} failed (HTTP ${response.statusCode})`)
      const digest = response.headers['docker-content-digest']
      return typeof digest === 'string' ? digest : undefined
    })
  }

  /** Push a manifest under a tag; returns its digest, checked against what the registry says. */
  async putManifest(tag: string, manifest: Manifest): Promise<string> {
    return this.answered(async () => {
      const body = Buffer.from(JSON.stringify(manifest))
      const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`
      const response = await this.send('PUT', `/v2/${this.repository}/manifests/${tag}`, { headers: { 'content-type': manifestType }, body })
      await this.ensure(response, `pushing ${this.repository}:${tag}`, [201])
      await response.body.dump()
      const stored = response.headers['docker-content-digest']
      if (stored && stored !== digest) throw new UserError(`registry ${this.host} stored the manifest of ${this.repository}:${tag} under another digest`)
      return digest
    })
  }
}

export const sifMediaTypes = {
  layer: 'application/vnd.sylabs.sif.layer.v1.sif',
  config: 'application/vnd.sylabs.sif.config.v1+json',
} as const

/** sha256 of a file, streamed, with its identity taken before it is read (lib/registry/fileUpload.ts). */
export async function fileSha256(path: string): Promise<{ digest: string; size: number; identity: string }> {
  const { size, identity } = await fileIdentity(path)
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) hash.update(chunk as Buffer)
  return { digest: `sha256:${hash.digest('hex')}`, size, identity }
}

/** `oras://host:port/namespace` -> host and namespace. */
export function parseOrasUrl(url: string): { host: string; namespace: string } {
  const match = /^oras:\/\/([^/]+)\/?(.*)$/.exec(url)
  if (!match || !match[1]) throw new UserError(`not an ORAS hub URL: ${url} (expected oras://registry/namespace)`)
  return { host: match[1], namespace: match[2]!.replace(/\/+$/, '') }
}

export interface OrasPushResult {
  reference: string
  digest: string
  skipped: boolean
}

/**
 * Push a SIF file as an ORAS artifact (what `apptainer pull oras://...` reads): an empty
 * JSON config of the SIF config type and one layer of the SIF layer type. Skipped when the
 * tag already points at a manifest whose layer has the same digest.
 */
export async function pushSifArtifact(options: { file: string; host: string; repository: string; tag: string; title: string }): Promise<OrasPushResult> {
  const client = new RegistryClient(options.host, options.repository, await dockerCredentials(options.host))
  const reference = `${options.host}/${options.repository}:${options.tag}`
  const layer = await fileSha256(options.file).catch((error: unknown) => {
    throw cannotRead(options.file, error)
  })
  const existing = await client.getManifest(options.tag)
  if (existing?.layers?.length === 1 && existing.layers[0]!.digest === layer.digest && existing.layers[0]!.mediaType === sifMediaTypes.layer) {
    return { reference, digest: layer.digest, skipped: true }
  }
  const configBytes = Buffer.from('{}')
  const config = { mediaType: sifMediaTypes.config, digest: `sha256:${createHash('sha256').update(configBytes).digest('hex')}`, size: configBytes.length }
  await client.pushBlob({ ...config, open: () => configBytes })
  ui.debug(`uploading ${options.file} (${layer.size} bytes) to ${reference}`)
  await client.pushBlob({ ...layer, open: () => checkedFileSource(options.file, layer) })
  const manifest: Manifest = {
    schemaVersion: 2,
    mediaType: manifestType,
    config,
    layers: [{ mediaType: sifMediaTypes.layer, digest: layer.digest, size: layer.size, annotations: { 'org.opencontainers.image.title': options.title } }],
    annotations: { 'org.opencontainers.image.created': new Date().toISOString() },
  }
  await client.putManifest(options.tag, manifest)
  return { reference, digest: layer.digest, skipped: false }
}
