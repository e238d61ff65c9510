// HTTP/1.1 on the engine's unix socket for the calls whose answer is read whole: a JSON call,
// the ping, a pull's progress lines. node:http costs the first request of a run 10 to 15 ms of
// its own set-up (its modules, its parser, their first compilation), most of a no-op
// create_docker's docker work (measured here: a first request 12-17 ms through node:http,
// 4-6 ms on a plain socket). One request per connection, `Connection: close`; the body framed
// by Content-Length, by chunks, or by the close, as RFC 9112 says. The streamed export keeps
// node:http (dockerEngine.ts), whose parser hands the body on without copying it.
import { connect } from 'node:net'

export interface EngineAnswer {
  status: number
  body: Buffer
  /** The body came whole: its length as announced, or its last chunk seen. */
  complete: boolean
}

export interface EngineRequest {
  /** A JSON body. */
  json?: unknown
  headers?: Record<string, string>
  /** Ends the request (the connection closed, the promise rejected with its reason). */
  signal?: AbortSignal
}

/** One request to the engine at `socket`; resolves once the engine has answered and closed. */
export function engineRequest(socket: string, method: string, path: string, { json, headers = {}, signal }: EngineRequest = {}): Promise<EngineAnswer> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    // what goes on the request's lines is ours, but a line break in it would be a second request
    if (/\s/.test(path) || Object.entries(headers).some(([name, value]) => /[\r\n]/.test(name + value))) {
      return reject(new Error(`not a request line for the engine: ${JSON.stringify(path)}`))
    }
    const payload = json === undefined ? '' : JSON.stringify(json)
    const lines = [`${method} ${path} HTTP/1.1`, 'Host: docker', 'Connection: close', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)]
    if (json !== undefined) lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(payload)}`)
    const connection = connect(socket)
    const chunks: Buffer[] = []
    const abort = () => connection.destroy(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason)))
    signal?.addEventListener('abort', abort, { once: true })
    const settle = (settled: () => void) => {
      signal?.removeEventListener('abort', abort)
      connection.destroy()
      settled()
    }
    connection.on('data', (chunk: Buffer) => chunks.push(chunk))
    // A half-close of ours would read as the client gone to the engine, which ends a pull:
    // the engine closes once it has answered (Connection: close).
    connection.on('end', () => {
      try {
        const answer = parseAnswer(Buffer.concat(chunks))
        settle(() => resolve(answer))
      } catch (error) {
        settle(() => reject(error))
      }
    })
    connection.on('error', (error) => settle(() => reject(signal?.aborted ? signal.reason : error)))
    connection.write(`${lines.join('\r\n')}\r\n\r\n${payload}`)
  })
}

/** The status, body and completeness of a whole HTTP/1.x response. */
export function parseAnswer(data: Buffer): EngineAnswer {
  const headEnd = data.indexOf('\r\n\r\n')
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(data.subarray(0, Math.max(headEnd, 0)).toString('latin1'))
  if (headEnd < 0 || !status) throw new Error('the engine closed the connection without an HTTP answer')
  const fields = new Map<string, string>()
  for (const line of data.subarray(0, headEnd).toString('latin1').split('\r\n').slice(1)) {
    const colon = line.indexOf(':')
    if (colon > 0) fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  const rest = data.subarray(headEnd + 4)
  if (/\bchunked\b/i.test(fields.get('transfer-encoding') ?? '')) return { status: Number(status[1]), ...unchunk(rest) }
  const length = fields.get('content-length')
  if (length !== undefined && /^\d+$/.test(length)) {
    const size = Number(length)
    return { status: Number(status[1]), body: rest.subarray(0, size), complete: rest.length >= size }
  }
  return { status: Number(status[1]), body: rest, complete: true } // framed by the close
}

/** A chunked body decoded; complete once the last (empty) chunk is seen. */
function unchunk(data: Buffer): { body: Buffer; complete: boolean } {
  const parts: Buffer[] = []
  let at = 0
  for (;;) {
    const lineEnd = data.indexOf('\r\n', at)
    if (lineEnd < 0) break
    const size = Number.parseInt(data.subarray(at, lineEnd).toString('latin1').split(';')[0]!.trim(), 16)
    if (!Number.isFinite(size)) break
    if (size === 0) return { body: Buffer.concat(parts), complete: true }
    const start = lineEnd + 2
    if (start + size > data.length) {
      parts.push(data.subarray(start))
      break
    }
    parts.push(data.subarray(start, start + size))
    at = start + size + 2
  }
  return { body: Buffer.concat(parts), complete: false }
}
