// A TCP proxy on 127.0.0.1 that plays a far-away server: it adds a fixed delay each way, can
// limit the bandwidth, and can inject one fault (close or reset after N bytes in either
// direction, stall, or hold until released). For tests and benchmarks (bench/wan.bench.ts); loopback only.
//
// Model of the link, per direction: a chunk read at time t leaves the bottleneck at
// max(t, when the previous one left) + size / bandwidth, and is written delay ms later, in
// order. The reading side is paused while more than `buffer` bytes wait, as a TCP window
// would stop the sender. The proxy stops by itself after `lifetimeMs` (its sockets destroyed),
// so a test that forgets it, or hangs, cannot keep the process alive.
import { createServer, connect, type Server, type Socket } from 'node:net'

export type Direction = 'up' | 'down' // up: client to server; down: server to client

export interface Fault {
  /**
   * close: FIN both ways once `afterBytes` went through; reset: RST both ways; stall: nothing
   * more passes, sockets stay open; hold: nothing more passes in `direction` until release(),
   * then everything held goes on (a test holds a run at a known point, without timing).
   */
  kind: 'close' | 'reset' | 'stall' | 'hold'
  direction: Direction
  /** Bytes passed in `direction` on the faulted connection before the fault (0: at once). */
  afterBytes: number
  /** Which connection, counted from 1 since the fault was armed (default 1: the next one). */
  connection?: number
  /**
   * Count `afterBytes` over every connection opened since the fault was armed, and fault the
   * one that carries the byte past it (a client with several connections, as HTTP's).
   */
  across?: boolean
}

export interface ProxyOptions {
  /** The real server, on loopback. */
  targetPort: number
  /** Added each way, in ms (RTT = 2 * delayMs). */
  delayMs?: number
  /** Bytes per second each way; unlimited when absent. */
  bandwidth?: number
  /** A fault armed from the start (see arm()). */
  fault?: Fault
  /** The proxy stops itself after this long (default 5 minutes). */
  lifetimeMs?: number
  /** Bytes queued per direction before the sender is paused (default: 2 x bandwidth x delay, at least 1 MiB). */
  buffer?: number
}

export interface ProxyStats {
  connections: number
  /** Connections open now (either side still there). */
  open: number
  bytesUp: number
  bytesDown: number
  faultsInjected: number
}

export interface TcpProxy {
  port: number
  stats: ProxyStats
  /** Arm one fault for the connections to come (replacing one not yet fired). */
  arm(fault: Fault): void
  /** The armed fault has fired (or none is armed). */
  readonly armed: boolean
  /** Resolves when the armed fault fires. */
  fired(): Promise<void>
  /** Resolves once no connection is open. */
  idle(): Promise<void>
  /** Let every held connection go on, with the bytes it held, in order. */
  release(): void
  /** Destroy every open connection (the proxy keeps listening). */
  dropAll(): void
  stop(): Promise<void>
}

interface Pending {
  data: Buffer
  at: number // when to write it (performance clock, ms)
}

/** One direction of one connection: reads `from`, writes `to` after the link's delay. */
class Pipe {
  private queue: Pending[] = []
  private queued = 0
  private lastDeparture = 0
  private timer: NodeJS.Timeout | undefined
  /** Bytes read from `from` so far (those past a stall point are dropped, not counted). */
  passed = 0
  stalled = false

  constructor(
    readonly from: Socket,
    readonly to: Socket,
    private readonly delayMs: number,
    private readonly bandwidth: number | undefined,
    private readonly buffer: number,
    /** Called with the byte count so far; returns how many of `size` more bytes may pass before a fault, or undefined. */
    private readonly limit: () => number | undefined,
    private readonly onFault: (rest: Buffer) => void,
    private readonly onBytes: (n: number) => void,
  ) {
    from.on('data', (chunk: Buffer) => this.read(chunk))
  }

  private read(chunk: Buffer): void {
    if (this.stalled) return
    if (this.held) return void this.held.push(chunk) // read before the pause took effect
    const left = this.limit()
    let data = chunk
    let faultNow = false
    if (left !== undefined && left <= chunk.length) {
      data = chunk.subarray(0, left)
      faultNow = true
    }
    this.passed += data.length
    this.onBytes(data.length)
    if (data.length > 0) this.enqueue(data)
    if (faultNow) this.onFault(chunk.subarray(data.length))
  }

  /** Chunks read past a hold point, passed on by release(). */
  private held: Buffer[] | undefined
  hold(rest: Buffer): void {
    this.held = rest.length > 0 ? [rest] : []
    this.from.pause()
  }
  release(): void {
    const held = this.held
    if (!held) return
    this.held = undefined
    for (const data of held) {
      this.passed += data.length
      this.onBytes(data.length)
      this.enqueue(data)
    }
    if (this.queued <= this.buffer && !this.stalled) this.from.resume()
    if (this.queue.length === 0 && this.endWhenEmpty) this.endWhenEmpty() // a FIN held behind no data
  }

  private enqueue(data: Buffer): void {
    const now = performance.now()
    const departure = this.bandwidth ? Math.max(now, this.lastDeparture) + (data.length * 1000) / this.bandwidth : now
    this.lastDeparture = departure
    this.queue.push({ data, at: departure + this.delayMs })
    this.queued += data.length
    if (this.queued > this.buffer) this.from.pause()
    this.schedule()
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return
    const wait = this.queue[0]!.at - performance.now()
    if (wait <= 0) return this.deliver()
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.deliver()
    }, wait)
  }

  private deliver(): void {
    const now = performance.now()
    const ready: Buffer[] = []
    while (this.queue.length > 0 && this.queue[0]!.at <= now + 0.5) {
      const { data } = this.queue.shift()!
      this.queued -= data.length
      ready.push(data)
    }
    if (ready.length > 0 && !this.to.destroyed) this.to.write(ready.length === 1 ? ready[0]! : Buffer.concat(ready))
    if (this.queued <= this.buffer && this.from.isPaused() && !this.stalled && !this.held) this.from.resume()
    if (this.queue.length === 0 && !this.held && this.endWhenEmpty) this.endWhenEmpty()
    this.schedule()
  }

  /** Once everything queued is written (a FIN after the data, as on a real link). */
  private endWhenEmpty: (() => void) | undefined
  whenDrained(then: () => void): void {
    if (this.queue.length === 0 && !this.held) return then()
    this.endWhenEmpty = () => {
      this.endWhenEmpty = undefined
      then()
    }
  }

  /** Nothing is written any more (a stall or a reset). */
  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = undefined
    this.queue = []
    this.queued = 0
  }
}

export async function startTcpProxy(options: ProxyOptions): Promise<TcpProxy> {
  const delayMs = options.delayMs ?? 0
  const buffer = options.buffer ?? Math.max(1 << 20, options.bandwidth ? Math.ceil((2 * options.bandwidth * delayMs) / 1000) : 16 << 20)
  const stats: ProxyStats = { connections: 0, open: 0, bytesUp: 0, bytesDown: 0, faultsInjected: 0 }
  let idleWaiters: (() => void)[] = []
  const sockets = new Set<Socket>()
  let fault: Fault | undefined = options.fault
  let connectionsSinceArmed = 0
  /** Bytes each way over the connections opened since the fault was armed (for `across`). */
  let sinceArmed = { up: 0, down: 0 }
  let firedWaiters: (() => void)[] = []
  const heldPipes = new Set<Pipe>()

  const server: Server = createServer({ noDelay: true, pauseOnConnect: true, allowHalfOpen: true }, (client) => {
    stats.connections++
    stats.open++
    connectionsSinceArmed++
    const myFault = fault && (fault.across || (fault.connection ?? 1) === connectionsSinceArmed) ? fault : undefined
    const upstream = connect({ host: '127.0.0.1', port: options.targetPort, noDelay: true, allowHalfOpen: true })
    let closedSides = 0
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => {
        sockets.delete(s)
        if (++closedSides < 2) return
        if (--stats.open === 0) for (const w of idleWaiters.splice(0)) w()
      })
      s.on('error', () => undefined) // a reset peer: the other side is closed below
    }
    let faulted = false
    const fire = (rest: Buffer) => {
      if (faulted || !myFault) return
      faulted = true
      if (fault === myFault) fault = undefined
      stats.faultsInjected++
      for (const w of firedWaiters) w()
      firedWaiters = []
      if (myFault.kind === 'hold') {
        const pipe = myFault.direction === 'up' ? up : down
        pipe.hold(rest)
        heldPipes.add(pipe)
        return
      }
      if (myFault.kind === 'stall') {
        for (const pipe of [up, down]) (pipe.stalled = true), pipe.stop(), pipe.from.pause()
        return
      }
      if (myFault.kind === 'reset') {
        up.stop()
        down.stop()
        client.resetAndDestroy()
        upstream.resetAndDestroy()
        return
      }
      // close: what passed reaches the other side, then FIN both ways
      for (const pipe of [up, down]) pipe.stalled = true
      let ended = 0
      const both = () => {
        if (++ended === 2) (client.end(), upstream.end())
      }
      up.whenDrained(both)
      down.whenDrained(both)
    }
    // an `across` fault is shared: it stays armed for this connection while no other fired it
    const limitOf = (direction: Direction, pipe: () => Pipe) => () =>
      !myFault || faulted || myFault.direction !== direction ? undefined
      : !myFault.across ? Math.max(0, myFault.afterBytes - pipe().passed)
      : fault === myFault ? Math.max(0, myFault.afterBytes - sinceArmed[direction])
      : undefined
    const up: Pipe = new Pipe(client, upstream, delayMs, options.bandwidth, buffer, limitOf('up', () => up), fire, (n) => ((stats.bytesUp += n), (sinceArmed.up += n)))
    const down: Pipe = new Pipe(upstream, client, delayMs, options.bandwidth, buffer, limitOf('down', () => down), fire, (n) => ((stats.bytesDown += n), (sinceArmed.down += n)))
    // A FIN from one side travels with the link's delay, after the data before it; the
    // connection is gone once both ways are closed, or at once when either side fails.
    client.on('end', () => up.whenDrained(() => upstream.end()))
    upstream.on('end', () => down.whenDrained(() => client.end()))
    client.on('close', (hadError) => hadError && upstream.destroy())
    upstream.on('close', (hadError) => hadError && client.destroy())
    upstream.once('connect', () => client.resume())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as { port: number }).port
  let stopped: Promise<void> | undefined
  const stop = () => {
    stopped ??= new Promise<void>((resolve) => {
      clearTimeout(lifetime)
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
    return stopped
  }
  const lifetime = setTimeout(stop, options.lifetimeMs ?? 5 * 60_000)
  lifetime.unref()
  return {
    port,
    stats,
    arm(next) {
      fault = next
      connectionsSinceArmed = 0
      sinceArmed = { up: 0, down: 0 }
    },
    get armed() {
      return fault !== undefined
    },
    fired() {
      return fault === undefined ? Promise.resolve() : new Promise((resolve) => firedWaiters.push(resolve))
    },
    idle() {
      return stats.open === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve))
    },
    release() {
      for (const pipe of heldPipes) pipe.release()
      heldPipes.clear()
    },
    dropAll() {
      for (const s of sockets) s.destroy()
    },
    stop,
  }
}
