// `npm run bench [-- name ...]`: runs every bench/*.bench.ts (or the named ones), prints
// one line per goal as a ratio against its baseline, and writes bench/results/latest.json.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { BenchLine } from './measure.js'

const here = dirname(fileURLToPath(import.meta.url))
const wanted = process.argv.slice(2)
const files = readdirSync(here)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort()

const machine = `${cpus().length} x ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`
console.log(`machine: ${machine}`)
const results: (BenchLine & { bench: string })[] = []
let failed = 0
let informative = 0
for (const file of files) {
  const name = file.replace(/\.bench\.js$/, '')
  console.log(`\n## ${name}`)
  try {
    const run = (await import(pathToFileURL(join(here, file)).href)).default as () => Promise<BenchLine[]>
    for (const line of await run()) {
      results.push({ ...line, bench: name })
      const fmt = (v: number) => `${v.toFixed(line.unit === 'ms' ? 0 : 1)} ${line.unit}`
      const figures = `ours ${fmt(line.ours)}, baseline ${fmt(line.baseline)}${line.note ? `; ${line.note}` : ''}`
      if (line.goal === undefined) {
        informative++
        console.log(`info ${line.name}: ratio ${line.ratio.toFixed(2)} (no goal); ${figures}`)
        continue
      }
      const met = line.ratio <= line.goal
      if (!met) failed++
      console.log(`${met ? 'ok  ' : 'MISS'} ${line.name}: ratio ${line.ratio.toFixed(2)} (goal <= ${line.goal}); ${figures}`)
    }
  } catch (error) {
    failed++
    console.log(`FAIL ${name}: ${(error as Error).message}`)
  }
}
const out = join(here, '..', '..', 'bench', 'results')
mkdirSync(out, { recursive: true })
writeFileSync(join(out, 'latest.json'), JSON.stringify({ machine, date: new Date().toISOString(), results }, null, 2))
console.log(`\n${results.length - informative} goals measured, ${failed} missed or failed${informative ? `, ${informative} for information only` : ''}; figures in bench/results/latest.json`)
process.exitCode = failed > 0 ? 1 : 0
