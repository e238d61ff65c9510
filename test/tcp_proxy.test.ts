// The loopback TCP proxy of test/helpers/tcpProxy.ts, against a real TCP server: what passes
// is intact and in order, delays and bandwidth are at least what was asked (lower bounds: a
// loaded machine only makes them longer), and each fault happens at the byte asked.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { once } from 'node:events'
import { startTcpProxy } from './helpers/tcpProxy.js'

/** A server that records what it receives per connection and runs `onConnection`. */
async function startServer(onConnection: (socket: Socket) => void = () => undefined) {
  const received: Buffer[][] = []
  const closed: Promise<void>[] = []
  const accepted: (() => void)[] = []
  const server: Server = createServer((socket) => {
    const chunks: Buffer[] = []
    received.push(chunks)
    socket.on('data', (c) => chunks.push(c))
    socket.on('error', () => undefined)
    closed.push(new Promise((resolve) => socket.on('close', () => resolve())))
    accepted.shift()?.()
    onConnection(socket)
  })
  /** Resolves when connection `i` (from 0) was accepted and has closed. */
  const ended = async (i: number) => {
    while (closed.length <= i) await new Promise<void>((resolve) => accepted.push(resolve))
    await closed[i]
  }
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return { port: (server.address() as { port: number }).port, received, ended, stop: () => new Promise<void>((r) => server.close(() => r())) }
}

function dial(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1')
  socket.on('error', () => undefined)
  return once(socket, 'connect').then(() => socket)
}

/** Everything the socket receives until it closes, and how it closed. */
function collect(socket: Socket): Promise<{ data: Buffer; error?: string }> {
  const chunks: Buffer[] = []
  let error: string | undefined
  socket.on('data', (c) => chunks.push(c))
  socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code))
  return new Promise((resolve) => socket.on('close', () => resolve({ data: Buffer.concat(chunks), error })))
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

t.test('bytes pass intact both ways, each way at least the delay late', async (t) => {
  const server = await startServer((s) => s.pipe(s)) // echo
  const proxy = await startTcpProxy({ targetPort: server.port, delayMs: 30 })
  t.teardown(async () => (await proxy.stop(), await server.stop()))
  const socket = await dial(proxy.port)
  const payload = randomBytes(3 << 20)
  const got = collect(socket)
  const started = performance.now()
  socket.write(payload.subarray(0, 1))
  await once(socket, 'data')
  t.ok(performance.now() - started >= 59, 'a round trip takes at least 2 x 30 ms')
  socket.end(payload.subarray(1))
  const { data } = await got
  t.equal(sha(data), sha(payload), '3 MiB echoed back intact and in order')
  t.equal(proxy.stats.connections, 1)
  t.equal(proxy.stats.bytesUp, payload.length)
  t.equal(proxy.stats.bytesDown, payload.length)
})

t.test('a bandwidth limit holds the transfer to at least size / bandwidth', async (t) => {
  const server = await startServer()
  const proxy = await startTcpProxy({ targetPort: server.port, bandwidth: 4_000_000 })
  t.teardown(async () => (await proxy.stop(), await server.stop()))
  const socket = await dial(proxy.port)
  const payload = randomBytes(1_000_000)
  const started = performance.now()
  socket.end(payload)
  await server.ended(0)
  t.ok(performance.now() - started >= 249, `1 MB at 4 MB/s took ${(performance.now() - started).toFixed(0)} ms (>= 250)`)
  t.equal(sha(Buffer.concat(server.received[0]!)), sha(payload))
})

t.test('close after N bytes up: the server gets exactly N, then both sides are closed', async (t) => {
  const server = await startServer()
  const proxy = await startTcpProxy({ targetPort: server.port, delayMs: 5, fault: { kind: 'close', direction: 'up', afterBytes: 100_000 } })
  t.teardown(async () => (await proxy.stop(), await server.stop()))
  const socket = await dial(proxy.port)
  const closed = collect(socket)
  const payload = randomBytes(300_000)
  socket.write(payload)
  await closed
  await server.ended(0)
  t.equal(sha(Buffer.concat(server.received[0]!)), sha(payload.subarray(0, 100_000)), 'the first 100,000 bytes, no more')
  t.equal(proxy.stats.faultsInjected, 1)
  t.notOk(proxy.armed, 'the fault is spent')
  // the next connection is transparent again
  const again = await dial(proxy.port)
  again.end(payload)
  await server.ended(1)
  t.equal(sha(Buffer.concat(server.received[1]!)), sha(payload), 'the next connection passes everything')
})

t.test('close after N bytes down, on the second connection once armed', async (t) => {
  const payload = randomBytes(200_000)
  const server = await startServer((s) => s.end(payload))
  const proxy = await startTcpProxy({ targetPort: server.port })
  t.teardown(async () => (await proxy.stop(), await server.stop()))
  proxy.arm({ kind: 'close', direction: 'down', afterBytes: 12_345, connection: 2 })
  const first = await collect(await dial(proxy.port))
  t.equal(first.data.length, payload.length, 'the first connection is not touched')
  const second = await collect(await dial(proxy.port))
  t.equal(sha(second.data), sha(payload.subarray(0, 12_345)), 'the second gets 12,345 bytes, then end of stream')
  t.notOk(second.error, 'a clean close (FIN)')
})

t.test('reset: the client sees ECONNRESET', async (t) => {
  // faulted on what the client sends: it has nothing unread when the RST comes (Linux may
  // report a reset that arrives behind unread data as a plain end of stream)
  const server = await startServer()
  const proxy = await startTcpProxy({ targetPort: server.port, fault: { kind: 'reset', direction: 'up', afterBytes: 1000 } })
  t.teardown(async () => (await proxy.stop(), await server.stop()))
  const socket = await dial(proxy.port)
  const got = collect(socket)
  socket.write(randomBytes(50_000))
  t.equal((await got).error, 'ECONNRESET')
  await server.ended(0)
  const received = Buffer.concat(server.received[0]!).length
  t.ok(received <= 1000, `the server got at most the 1000 bytes before the reset (got ${received})`)
})

t.test('stall: after N bytes nothing passes, and the connection stays open', async (t) => {
  const server = await startServer((s) => s.write(randomBytes(50_000)))
  const proxy = await startTcpProxy({ targetPort: server.port, fault: { kind: 'stall', direction: 'down', afterBytes: 2000 } })
  t.teardown(async () => (await proxy.stop(), await server.stop()))
  const socket = await dial(proxy.port)
  let received = 0
  socket.on('data', (c) => (received += c.length))
  await proxy.fired()
  // idle for 300 ms: the event a client's timeout is made of
  socket.setTimeout(300)
  await once(socket, 'timeout')
  t.equal(received, 2000, 'exactly the bytes before the stall')
  t.notOk(socket.destroyed, 'the connection is still open')
  socket.destroy()
})

t.test('hold: after N bytes nothing more passes until release(), then all of it, intact and in order', async (t) => {
  const sent = randomBytes(50_000)
  const server = await startServer((s) => s.end(sent))
  const proxy = await startTcpProxy({ targetPort: server.port, fault: { kind: 'hold', direction: 'down', afterBytes: 2000 } })
  t.teardown(async () => (await proxy.stop(), await server.stop()))
  const socket = await dial(proxy.port)
  const chunks: Buffer[] = []
  let received = 0
  let reached2000: () => void = () => undefined
  const atHold = new Promise<void>((resolve) => (reached2000 = resolve))
  socket.on('data', (c: Buffer) => {
    chunks.push(c)
    received += c.length
    if (received >= 2000) reached2000()
  })
  const closed = once(socket, 'close')
  await proxy.fired()
  await atHold
  t.equal(received, 2000, 'exactly the bytes before the hold point')
  t.equal(proxy.stats.bytesDown, 2000, 'and the proxy passed no more')
  t.notOk(socket.destroyed, 'the connection is open while held')
  proxy.release()
  await closed
  t.equal(createHash('sha256').update(Buffer.concat(chunks)).digest('hex'), createHash('sha256').update(sent).digest('hex'), 'after release: every byte, in order')
})

t.test('the proxy stops by itself after its lifetime', async (t) => {
  const server = await startServer()
  const proxy = await startTcpProxy({ targetPort: server.port, lifetimeMs: 200 })
  t.teardown(server.stop)
  const socket = await dial(proxy.port)
  await collect(socket)
  t.pass('the open connection was closed')
  await proxy.stop() // resolves: already stopped
  const refused = connect(proxy.port, '127.0.0.1')
  const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException]
  t.equal(error.code, 'ECONNREFUSED', 'and it no longer listens')
})
