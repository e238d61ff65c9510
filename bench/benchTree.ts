// The build-workflow tree the mirror benchmarks upload (bench/mirror.bench.ts on loopback,
// bench/wan.bench.ts through a far-away link).
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** Deterministic sizes: mostly small text files, some of hundreds of kB, a few MB. */
export function makeTree(dir: string, count: number): { bytes: number; files: string[] } {
  let seed = 42
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) / 0x80000000)
  const files: string[] = []
  let bytes = 0
  for (let i = 0; i < count; i++) {
    const r = rand()
    const size = r < 0.85 ? Math.floor(200 + rand() * 8000) : r < 0.99 ? Math.floor(20_000 + rand() * 200_000) : Math.floor(1_000_000 + rand() * 2_000_000)
    const path = `src/p${i % 20}/d${Math.floor(i / 100) % 10}/f${i}.${r < 0.85 ? 'py' : 'bin'}`
    mkdirSync(join(dir, path, '..'), { recursive: true })
    writeFileSync(join(dir, path), Buffer.alloc(size, `${i} casa-distro build workflow file\n`))
    files.push(path)
    bytes += size
  }
  mkdirSync(join(dir, 'conf'), { recursive: true })
  writeFileSync(join(dir, 'conf', 'casa_distro.json'), '{"distro":"bench"}')
  return { bytes, files }
}

