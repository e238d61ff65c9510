// Start-up cost: `casa_distro_admin help` (the launcher run as a program, as users run it)
// against a bare `node -e 0` in the same environment. Goal: at most 1.8x (about 0.5 s on a
// slow machine): heavy modules must stay lazily imported. Where the environment sets
// NODE_EXTRA_CA_CERTS, the launcher starts node without it (lib/util/deferredCa.ts) and a bare
// node pays it: a second line, with no goal, puts help against node started as the launcher
// starts it, the floor of what is ours.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compare, launchedNodeEnv, median, timeCommand, type BenchLine } from './measure.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'casa_distro_admin.js')

export default async function helpBench(): Promise<BenchLine[]> {
  timeCommand([bin, 'help']) // warm the file cache
  const line = await compare(
    'casa_distro_admin help vs node -e 0',
    () => timeCommand([bin, 'help']),
    () => timeCommand([process.execPath, '-e', '0']),
    { runs: 15, goal: 1.8 },
  )
  const lines: BenchLine[] = [{ ...line, note: `help ${line.ours.toFixed(0)} ms (goal < 500 ms)` }]
  if (process.env.NODE_EXTRA_CA_CERTS) {
    const floor = median([0, 1, 2, 3, 4].map(() => timeCommand([process.execPath, '-e', '0'], { env: launchedNodeEnv() })))
    lines.push({ name: 'casa_distro_admin help vs node -e 0 as the launcher starts it (information)', ours: line.ours, baseline: floor, unit: 'ms', ratio: line.ours / floor, note: `this environment sets NODE_EXTRA_CA_CERTS: node -e 0 takes ${line.baseline.toFixed(0)} ms reading it, ${floor.toFixed(0)} ms without` })
  }
  return lines
}
