// The Docker engine's HTTP API on its local unix socket, for the calls of a SIF conversion
// (list and inspect images; create, export, remove a container): each CLI call costs a
// process start (70 to 100 ms here), and through the CLI `docker export` of a 500 MB image is
// one more process copying every byte, about 0.8 s of CPU on a two-core machine already busy
// compressing. Used only where the socket is plainly the engine the CLI would talk to; any
// other setup (DOCKER_HOST tcp:// or ssh://, a docker context, TLS) goes through the CLI,
// which knows them all. The calls answered whole go through engineHttp.ts (no node:http set-up
// to pay on a no-op run); the export is streamed through node:http rather than undici: its
// native parser hands the body on as views of what the socket read, where undici's copies it
// (measured: 0.4 s of CPU less on a 500 MB export).
import { accessSync, constants } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import type { Readable } from 'node:stream'
import { dockerContext } from './dockerContext.js'
import { engineRequest, type EngineAnswer } from './engineHttp.js'

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

/** A streamed GET through node:http; resolves with the response once its head has come. `signal` ends it. */
async function streamedGet(socket: string, path: string, signal?: AbortSignal): Promise<IncomingMessage> {
  const { request } = await import('node:http')
  return new Promise((resolve, reject) => {
    const sent = request({ socketPath: socket, method: 'GET', path, signal }, resolve)
    sent.on('error', reject)
    sent.end()
  })
}

/** The engine's own message in a failed answer, as the CLI prints it. */
function failure(status: number, body: string): EngineError {
  let message = body.trim()
  try {
    message = (JSON.parse(body) as { message?: string }).message ?? message
  } catch {
    // not JSON: the text as it is
  }
  return new EngineError(status, message || `HTTP ${status}`)
}

/** An answer of status 300 or more as an EngineError; else the answer. */
function succeeded(answer: EngineAnswer): EngineAnswer {
  if (answer.status >= 300) throw failure(answer.status, answer.body.toString())
  return answer
}

/** The engine's cheapest question (`docker version` asks it too); resolves once answered. */
export async function pingEngine(socket: string, signal: AbortSignal): Promise<void> {
  await engineRequest(socket, 'GET', '/_ping', { signal })
}

/** A JSON API call; a status of 300 or more throws an EngineError. */
export async function engineCall<T>(socket: string, method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T | undefined> {
  const answer = succeeded(await engineRequest(socket, method, path, { json: body, signal }))
  if (!answer.complete) throw new Error('the engine closed the connection before the end of its answer')
  const text = answer.body.toString()
  return text ? (JSON.parse(text) as T) : undefined
}

export interface EngineStream {
  stream: Readable
  /** Resolves once the body has ended: undefined when it came whole, else what went wrong. */
  done: Promise<string | undefined>
  stop(): void
}

/** A streamed GET (an export): the body as a stream, and whether it came whole. */
export async function engineStream(socket: string, path: string, signal?: AbortSignal): Promise<EngineStream> {
  const response = await streamedGet(socket, path, signal)
  if ((response.statusCode ?? 0) >= 300) {
    const chunks: Buffer[] = []
    for await (const chunk of response) chunks.push(chunk as Buffer)
    throw failure(response.statusCode ?? 0, Buffer.concat(chunks).toString())
  }
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
  const answer = succeeded(await engineRequest(socket, 'POST', `/images/create?${query}`, { headers: auth ? { 'X-Registry-Auth': auth } : {}, signal }))
  let error: string | undefined
  for (const line of answer.body.toString().split('\n')) {
    if (!line.trim()) continue
    try {
      const progress = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } }
      if (progress.error || progress.errorDetail) error = progress.errorDetail?.message || progress.error
    } catch {
      // not a progress line: nothing to learn from it
    }
  }
  return error ?? (answer.complete ? undefined : 'the engine closed the stream before its end')
}
