// Start-up cost: `casa_distro_admin help` against a bare `node -e 0`. Goal: at most 1.8x
// (about 0.5 s on a slow machine): heavy modules must stay lazily imported.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { compare, timeCommand, type BenchLine } from './measure.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'casa_distro_admin.js')

export default async function helpBench(): Promise<BenchLine[]> {
  timeCommand([process.execPath, bin, 'help']) // warm the file cache
  const line = await compare(
    'casa_distro_admin help vs node -e 0',
    () => timeCommand([process.execPath, bin, 'help']),
    () => timeCommand([process.execPath, '-e', '0']),
    { runs: 15, goal: 1.8 },
  )
  return [{ ...line, note: `help ${line.ours.toFixed(0)} ms (goal < 500 ms)` }]
}
