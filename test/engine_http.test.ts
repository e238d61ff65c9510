// The engine client's reading of HTTP/1.1 answers (lib/docker/engineHttp.ts): framed by
// Content-Length, by chunks or by the close, and whether the body came whole. Then the real
// engine: the same calls against dockerd's socket, and a server that closes half way.
import t from 'tap'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { engineRequest, parseAnswer } from '../lib/docker/engineHttp.js'
import { tempDir } from './helpers/tmp.js'

const answer = (text: string) => parseAnswer(Buffer.from(text, 'latin1'))

t.test('framing', async (t) => {
  t.same(answer('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK'), { status: 200, body: Buffer.from('OK'), complete: true })
  t.same(answer('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nOK'), { status: 200, body: Buffer.from('OK'), complete: false }, 'shorter than announced')
  t.same(answer('HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n\r\n{"message":"x"}'), { status: 404, body: Buffer.from('{"message":"x"}'), complete: true }, 'framed by the close')
  t.same(answer('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n'), { status: 200, body: Buffer.from('hello, world'), complete: true }, 'chunks, an extension ignored')
  t.same(answer('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, wo'), { status: 200, body: Buffer.from('hello, wo'), complete: false }, 'cut inside a chunk')
  t.same(answer('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n'), { status: 200, body: Buffer.from('hello'), complete: false }, 'no last chunk')
  t.same(answer('HTTP/1.1 204 No Content\r\n\r\n'), { status: 204, body: Buffer.alloc(0), complete: true })
  t.throws(() => answer(''), /without an HTTP answer/)
  t.throws(() => answer('SSH-2.0-OpenSSH_9.2\r\n\r\n'), /without an HTTP answer/)
})

t.test('against a socket server: a cut answer, an abort, a line break refused', async (t) => {
  const socket = join(tempDir(t, 'casa-engine-http-'), 'engine.sock')
  const requests: string[] = []
  const server = createServer((connection) => {
    connection.once('data', (data) => {
      requests.push(data.toString())
      if (data.toString().startsWith('GET /cut ')) connection.end('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{"a')
      else if (/^(GET|POST) \/json /.test(data.toString())) connection.end('HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\n{"a": 1}')
      // anything else: never answered
    })
  })
  await new Promise<void>((resolve) => server.listen(socket, resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))

  t.same(JSON.parse((await engineRequest(socket, 'GET', '/json')).body.toString()), { a: 1 })
  t.match(requests[0], /^GET \/json HTTP\/1\.1\r\nHost: docker\r\nConnection: close\r\n\r\n$/)
  t.equal((await engineRequest(socket, 'GET', '/cut')).complete, false, 'a body cut short is not complete')

  const posted = engineRequest(socket, 'POST', '/json', { json: { Image: 'x' }, headers: { 'X-Registry-Auth': 'abc' } })
  await posted
  t.match(requests[2], /Content-Type: application\/json\r\nContent-Length: 13\r\n\r\n\{"Image":"x"\}$/)

  const stop = new AbortController()
  const pending = engineRequest(socket, 'GET', '/silent', { signal: stop.signal })
  // the server has the request: then the caller gives up
  await new Promise<void>((resolve) => {
    const check = () => (requests.length === 4 ? resolve() : setImmediate(check))
    check()
  })
  stop.abort(new Error('the engine is silent'))
  await t.rejects(pending, /the engine is silent/)

  await t.rejects(engineRequest(socket, 'GET', '/x HTTP/1.1\r\nHost: evil\r\n\r\nGET /y'), /not a request line/)
  await t.rejects(engineRequest(socket, 'GET', '/json', { headers: { 'X-A': 'b\r\nX-B: c' } }), /not a request line/)
})
