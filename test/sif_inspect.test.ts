// inspect_singularity on damaged or unusual files: one `error:` line, non-zero exit, no
// stack, no hang. The SIF files are written with our own writer (no docker needed).
import t, { type Test } from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { dataTypes, planSif } from '../lib/sif/sifWriter.js'

const dir = tempDir(t, 'casa-sif-inspect-')
const env = { HOME: dir }

/** A SIF whose JSON.Labels object holds `labels` as written (4 KiB of zeros as "partition"). */
function sif(name: string, labels: string): string {
  const path = join(dir, name)
  const plan = planSif({ objects: [{ type: dataTypes.labels, name: 'labels.json', data: Buffer.from(labels) }], partitionSize: 4096, arch: 'amd64' })
  writeFileSync(path, Buffer.concat([plan.head, Buffer.alloc(plan.partitionSize)]))
  return path
}

const oneLine = (t: Test, r: { code: number; stderr: string }, pattern: RegExp) => {
  t.not(r.code, 0)
  t.match(r.stderr, pattern)
  t.notMatch(r.stderr, /internal error|\n\s+at /, 'no stack trace')
  t.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
}

t.test('good labels are printed', async (t) => {
  const r = await runCli(['inspect_singularity', sif('good.sif', '{"a":"b","n":1}')], { env })
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /  a: b\n  n: 1/)
})

t.test('damaged labels: one line naming the file', async (t) => {
  const cases: Array<[string, string, RegExp]> = [
    ['ctl.sif', '{"a":"b\u0001\n"}', /^error: .*ctl\.sif: the labels object is not valid JSON$/m],
    ['null.sif', 'null', /^error: .*null\.sif: the labels object is not a JSON object \(got null\)$/m],
    ['array.sif', '[1,2]', /^error: .*array\.sif: the labels object is not a JSON object \(got an array\)$/m],
    ['str.sif', '"str"', /^error: .*str\.sif: the labels object is not a JSON object \(got a string\)$/m],
  ]
  for (const [name, labels, pattern] of cases) {
    t.test(name, async (t) => oneLine(t, await runCli(['inspect_singularity', sif(name, labels)], { env }), pattern))
  }
})

t.test('a directory or a FIFO is refused at once', async (t) => {
  const d = join(dir, 'd.sif')
  mkdirSync(d)
  oneLine(t, await runCli(['inspect_singularity', d], { env }), /^error: cannot read .*d\.sif: it is a directory$/m)
  const fifo = join(dir, 'ff.sif')
  execFileSync('mkfifo', [fifo])
  // Without the check this hangs; the kill turns a hang into a failure instead of a timeout.
  oneLine(t, await runCli(['inspect_singularity', fifo], { env, kill: { signal: 'SIGKILL', afterMs: 15000 } }), /^error: cannot read .*ff\.sif: not a regular file$/m)
})
