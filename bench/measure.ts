// Shared measuring for benchmarks: every goal is a ratio of our tool against a baseline
// measured in the same run, on the same machine, so figures survive a slower machine.
import { spawnSync } from 'node:child_process'
import { performance } from 'node:perf_hooks'

export interface BenchLine {
  /** What is compared, e.g. "help vs node -e 0". */
  name: string
  ours: number
  baseline: number
  unit: 'ms' | 'MB' | 'bytes'
  /** ours / baseline; lower is better. */
  ratio: number
  /** The ratio the goal allows (at most); none for a line that only informs (a floor, a bound). */
  goal?: number
  /** Extra figures worth printing (absolute times, sizes). */
  note?: string
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Wall time of one synchronous command run, in ms; throws if it fails. */
/**
 * The environment node starts with under our launcher (bin/casa_distro_admin.js): without
 * NODE_EXTRA_CA_CERTS, which it defers to the first TLS connection. A bare `node -e 0` as a
 * floor for our commands is started the same way, so that the two pay the same node start.
 */
export function launchedNodeEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { NODE_EXTRA_CA_CERTS: _deferred, ...rest } = env
  return rest
}

export function timeCommand(argv: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): number {
  const started = performance.now()
  const result = spawnSync(argv[0]!, argv.slice(1), { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'ignore', 'pipe'] })
  const elapsed = performance.now() - started
  if (result.status !== 0) throw new Error(`${argv.join(' ')} failed: ${result.stderr?.toString().slice(-400)}`)
  return elapsed
}

/** Median of `runs` alternating runs of ours and the baseline (alternating evens out noise). */
export async function compare(
  name: string,
  ours: () => number | Promise<number>,
  baseline: () => number | Promise<number>,
  options: { runs: number; goal?: number; unit?: BenchLine['unit']; note?: string },
): Promise<BenchLine> {
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < options.runs; i++) {
    a.push(await ours())
    b.push(await baseline())
  }
  const oursMedian = median(a)
  const baselineMedian = median(b)
  return { name, ours: oursMedian, baseline: baselineMedian, unit: options.unit ?? 'ms', ratio: oursMedian / baselineMedian, goal: options.goal, note: options.note }
}
