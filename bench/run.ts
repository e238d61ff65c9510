// `npm run bench [-- name ...]`: runs every bench/*.bench.ts (or the named ones; a group
// exporting `onlyWhenNamed` only when named), prints one line per goal as a ratio against
// its baseline, and writes bench/results/latest.json and bench/results/GROUP.json for each
// group run (so a long group's figures outlive the next run of the others).
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
    const group = (await import(pathToFileURL(join(here, file)).href)) as { default: () => Promise<BenchLine[]>; onlyWhenNamed?: boolean }
    // A group that takes too long for every run (bigimage) runs only when asked for by name.
    if (group.onlyWhenNamed && wanted.length === 0) {
      console.log(`skipped: too long for every run; \`npm run bench -- ${name}\` runs it`)
      continue
    }
    for (const line of await group.default()) {
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
const date = new Date().toISOString()
writeFileSync(join(out, 'latest.json'), JSON.stringify({ machine, date, results }, null, 2))
for (const bench of new Set(results.map((r) => r.bench))) {
  writeFileSync(join(out, `${bench}.json`), JSON.stringify({ machine, date, results: results.filter((r) => r.bench === bench) }, null, 2))
}
console.log(`\n${results.length - informative} goals measured, ${failed} missed or failed${informative ? `, ${informative} for information only` : ''}; figures in bench/results/latest.json`)
process.exitCode = failed > 0 ? 1 : 0
