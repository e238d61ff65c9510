// The Docker engine's HTTP API on its local unix socket, for the calls of a SIF conversion
// (list and inspect images; create, export, remove a container): each CLI call costs a
// process start (70 to 100 ms here), and through the CLI `docker export` of a 500 MB image is
// one more process copying every byte, about 0.8 s of CPU on a two-core machine already busy
// compressing. Used only where the socket is plainly the engine the CLI would talk to; any
// other setup (DOCKER_HOST tcp:// or ssh://, a docker context, TLS) goes through the CLI,
// which knows them all. node:http rather than undici here: its native parser hands the body
// on as views of what the socket read, where undici's copies it (measured: 0.4 s of CPU less
// on a 500 MB export).
import { accessSync, constants } from 'node:fs'
import http from 'node:http'
import type { Readable } from 'node:stream'
import { dockerContext } from './dockerContext.js'

/** The engine's socket when the CLI would use it too (`host`: config.docker.host), else undefined. */
export function localEngineSocket(host: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const target = host ?? env.DOCKER_HOST
  let socket: string
  if (target) {
    if (!target.startsWith('unix://')) return undefined
    socket = target.slice('unix://'.length)
  } else {
    if (dockerContext(env)) return undefined
    socket = '/var/run/docker.sock'
  }
  try {
    accessSync(socket, constants.R_OK | constants.W_OK)
    return socket
  } catch {
    return undefined // the CLI will say why it cannot connect
  }
}

/** An API call that failed: the engine's own message, as the CLI prints it. */
export class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
    this.name = 'EngineError'
  }
}

/** Send a request; resolves with the response once its head has come. `signal` ends it. */
function send(socket: string, method: string, path: string, body?: unknown, signal?: AbortSignal, headers: Record<string, string> = {}): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const request = http.request({ socketPath: socket, method, path, signal, headers: payload ? { ...headers, 'content-type': 'application/json' } : headers }, resolve)
    request.on('error', reject)
    request.end(payload)
  })
}

async function text(response: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of response) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString()
}

async function failure(response: http.IncomingMessage): Promise<EngineError> {
  const body = await text(response)
  let message = body.trim()
  try {
    message = (JSON.parse(body) as { message?: string }).message ?? message
  } catch {
    // not JSON: the text as it is
  }
  return new EngineError(response.statusCode ?? 0, message || `HTTP ${response.statusCode}`)
}

/** The engine's cheapest question (`docker version` asks it too); resolves once answered. */
export async function pingEngine(socket: string, signal: AbortSignal): Promise<void> {
  const response = await send(socket, 'GET', '/_ping', undefined, signal)
  response.resume()
}

/** A JSON API call; a status of 300 or more throws an EngineError. */
export async function engineCall<T>(socket: string, method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T | undefined> {
  const response = await send(socket, method, path, body, signal)
  if ((response.statusCode ?? 0) >= 300) throw await failure(response)
  const answer = await text(response)
  return answer ? (JSON.parse(answer) as T) : undefined
}

export interface EngineStream {
  stream: Readable
  /** Resolves once the body has ended: undefined when it came whole, else what went wrong. */
  done: Promise<string | undefined>
  stop(): void
}

/** A streamed GET (an export): the body as a stream, and whether it came whole. */
export async function engineStream(socket: string, path: string, signal?: AbortSignal): Promise<EngineStream> {
  const response = await send(socket, 'GET', path, undefined, signal)
  if ((response.statusCode ?? 0) >= 300) throw await failure(response)
  const done = new Promise<string | undefined>((resolve) => {
    // A chunked body cut short (the engine failed half way) is not complete.
    response.once('close', () => resolve(response.complete ? undefined : 'the engine closed the stream before its end'))
  })
  return { stream: response, done, stop: () => response.destroy() }
}

/**
 * `docker pull` (POST /images/create): resolves once the engine has pulled `name:tag` (a tag
 * or a digest), with undefined, or with the engine's error. The engine answers 200 and then
 * reports a failure in its stream of progress lines, as the CLI prints it; `auth` is the
 * X-Registry-Auth header the CLI would send (never logged).
 */
export async function enginePull(socket: string, name: string, tag: string, auth: string | undefined, signal?: AbortSignal): Promise<string | undefined> {
  const query = new URLSearchParams({ fromImage: name, tag })
  const response = await send(socket, 'POST', `/images/create?${query}`, undefined, signal, auth ? { 'X-Registry-Auth': auth } : {})
  if ((response.statusCode ?? 0) >= 300) throw await failure(response)
  let error: string | undefined
  let pending = ''
  const look = (line: string) => {
    if (!line.trim()) return
    try {
      const progress = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } }
      if (progress.error || progress.errorDetail) error = progress.errorDetail?.message || progress.error
    } catch {
      // not a progress line: nothing to learn from it
    }
  }
  for await (const chunk of response) {
    const lines = (pending + (chunk as Buffer).toString()).split('\n')
    pending = lines.pop()!
    lines.forEach(look)
  }
  look(pending)
  return error ?? (response.complete ? undefined : 'the engine closed the stream before its end')
}
