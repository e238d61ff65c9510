// Fault runs for a task that talks to a server through test/helpers/tcpProxy.ts: one clean
// run measures the bytes each way, then the connection is cut (FIN or RST) at `points` byte
// counts spread over them, and stalled once past the task's timeout. After each fault: the
// run failed with one `error:` line naming the server and no stack trace, nothing under a
// final name is damaged, and the next run completes. Every cut point is a byte count through
// the proxy (an event), never a timer, counted over all the connections of the run (an HTTP
// client opens several). The counts are what the README's reliability section
// quotes.
import type { Test } from 'tap'
import type { CliResult } from './cli.js'
import type { Fault, TcpProxy } from './tcpProxy.js'

type Assert = Test

export interface FaultCounts {
  injected: number
  /** Faults the run got over by itself, its result whole (a retried request, a best-effort step). */
  absorbed: number
  recovered: number
  lost: number
}

export interface FaultOptions {
  proxy: TcpProxy
  /** Cut points (default 20). */
  points?: number
  /** Brings the server (and the local side) back to where the first run starts (an empty hub). */
  reset(): unknown
  /** One run of the task; `env` is added for the stalled run (a small timeout). */
  run(env?: Record<string, string>): Promise<CliResult>
  /** How the error line names the server (host:port or URL, credentials masked). */
  server: RegExp
  /**
   * The client retries a request by itself (git over HTTP): a cut run that exits 0 is then
   * checked through the run after it (`incomplete` there speaks of that run, a journal's re-run).
   */
  absorbs?: boolean
  /** What must never be printed (a password in the URL). */
  secret?: string
  /** What is under a final name and is not whole (a partial or unverified file): one line each. */
  damaged(): string[] | Promise<string[]>
  /** After the run that follows a fault: why the result is not whole, or undefined. */
  incomplete(result: CliResult): string | undefined | Promise<string | undefined>
  /** The environment that bounds the stalled run (the task's timeout, made small). */
  stallEnv: Record<string, string>
  /** Also checked after the cut run (the journal of apply_release_plan). */
  afterCut?(point: string): unknown
  /**
   * How the faulted run must fail, when not as checkOneLineError says (create_release_plan);
   * true when the run got over the fault by itself.
   */
  failed?(result: CliResult, point: string): boolean | void | Promise<boolean | void>
}

/** The run failed as a lost server should: non-zero, one `error:` line naming the server, no stack. */
export function checkOneLineError(t: Assert, result: CliResult, server: RegExp, point: string, secret?: string): void {
  t.not(result.code, 0, `${point}: the run fails`)
  const errors = result.stderr.split('\n').filter((l) => /^error:/.test(l))
  t.equal(errors.length, 1, `${point}: one error line: ${errors.join(' | ') || result.stderr.slice(-300)}`)
  t.match(errors[0] ?? '', server, `${point}: the error line names the server`)
  t.notMatch(result.stderr, /^\s+at /m, `${point}: no stack trace`)
  if (secret) t.notMatch(result.stderr + result.stdout, new RegExp(secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), `${point}: the password is not printed`)
}

export async function injectFaults(t: Assert, options: FaultOptions): Promise<FaultCounts> {
  const { proxy } = options
  const points = options.points ?? 20
  // a clean full run, for the bytes each way that the whole transfer takes
  await options.reset()
  const up0 = proxy.stats.bytesUp
  const down0 = proxy.stats.bytesDown
  const clean = await options.run()
  t.equal(clean.code, 0, `the clean run completes: ${clean.stderr.slice(-400)}`)
  const bytesUp = proxy.stats.bytesUp - up0
  const bytesDown = proxy.stats.bytesDown - down0
  t.comment(`a clean run: ${bytesUp} bytes up, ${bytesDown} down`)

  const counts: FaultCounts = { injected: 0, absorbed: 0, recovered: 0, lost: 0 }
  const faults: Fault[] = []
  for (let k = 1; k <= points; k++) {
    // spread over the transfer: most cuts on the sending side, every fourth on the answers
    const down = k % 4 === 0
    faults.push({ kind: k % 3 === 0 ? 'reset' : 'close', direction: down ? 'down' : 'up', across: true, afterBytes: Math.floor(((down ? bytesDown : bytesUp) * k) / (points + 1)) })
  }
  // and one stall half-way through the upload, ended by the task's own timeout
  faults.push({ kind: 'stall', direction: 'up', across: true, afterBytes: Math.floor(bytesUp / 2) })

  for (const fault of faults) {
    const point = `${fault.kind} after ${fault.afterBytes} bytes ${fault.direction}`
    await options.reset()
    proxy.arm(fault)
    const cut = await options.run(fault.kind === 'stall' ? options.stallEnv : undefined)
    if (proxy.armed) {
      // the run needed fewer bytes than the clean one: no fault
      proxy.arm({ ...fault, afterBytes: Number.MAX_SAFE_INTEGER })
      t.equal(cut.code, 0, `${point}: not reached, the run completed: ${cut.stderr.slice(-400)}`)
    } else {
      counts.injected++
      if (options.failed) {
        if (await options.failed(cut, point)) counts.absorbed++
      } else if (cut.code === 0) {
        // The cut fell where the run could do without the server: a request the client retried
        // on a fresh connection (git over HTTP), or the best-effort look for old leftovers after
        // the result was in place (a warning). Exit 0 then promises a whole result.
        const missing = options.absorbs ? undefined : await options.incomplete(cut)
        if (missing === undefined) counts.absorbed++
        else t.fail(`${point}: the run exited 0 with its result not whole: ${missing}`)
      } else checkOneLineError(t, cut, options.server, point, options.secret)
      if (fault.kind === 'stall') proxy.dropAll() // the stalled connection, still open on the server side
    }
    for (const problem of await options.damaged()) {
      counts.lost++
      t.fail(`${point}: ${problem}`)
    }
    await options.afterCut?.(point)
    const again = await options.run()
    const missing = again.code === 0 ? await options.incomplete(again) : `exit ${again.code}: ${again.stderr.slice(-400)}`
    if (missing === undefined) counts.recovered++
    else t.fail(`${point}: the run after the fault did not complete: ${missing}`)
    for (const problem of await options.damaged()) {
      counts.lost++
      t.fail(`${point}, after the next run: ${problem}`)
    }
  }
  t.comment(`faults injected: ${counts.injected}${counts.absorbed ? ` (${counts.absorbed} got over within the run, the result whole)` : ''}, runs recovered: ${counts.recovered}, files lost: ${counts.lost}`)
  t.ok(counts.injected >= faults.length - 2, `${counts.injected} of ${faults.length} faults happened during a run`)
  t.equal(counts.recovered, faults.length, 'every run after a fault completed')
  t.equal(counts.lost, 0, 'nothing under a final name was partial or wrong')
  return counts
}
