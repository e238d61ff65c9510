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

/** A SIF as create_singularity writes it now: Def.FILE, inspect-metadata.json, oci-config.json, partition. */
function current(name: string, metadata: unknown): string {
  const path = join(dir, name)
  const plan = planSif({
    objects: [
      { type: dataTypes.deffile, name: '', data: Buffer.from('bootstrap: docker-daemon\nfrom: ns/img:1\n') },
      { type: dataTypes.genericJson, name: 'inspect-metadata.json', data: Buffer.from(typeof metadata === 'string' ? metadata : JSON.stringify(metadata)) },
      { type: dataTypes.genericJson, name: 'oci-config.json', data: Buffer.from('{"Cmd":["/bin/sh"]}') },
    ],
    partitionSize: 4096,
    arch: 'amd64',
  })
  writeFileSync(path, Buffer.concat([plan.head, Buffer.alloc(plan.partitionSize)]))
  return path
}

t.test("sections as apptainer inspect prints them, from the inspect-metadata.json object", async (t) => {
  const attributes = {
    labels: { 'z.last': 'z', 'a.first': 'a b' },
    environment: { '/.singularity.d/env/90-environment.sh': '#!/bin/sh\n# custom', '/.singularity.d/env/10-docker2singularity.sh': '#!/bin/sh\nexport A=1' },
    runscript: '#!/bin/sh\neval "set ${SINGULARITY_OCI_RUN}"',
    startscript: '#!/bin/sh',
    deffile: 'ignored: the Def.FILE object is what apptainer reads',
  }
  const file = current('now.sif', { data: { attributes }, type: 'container' })
  const labels = await runCli(['inspect_singularity', file, 'labels=1'], { env })
  t.equal(labels.code, 0, labels.stderr)
  t.equal(labels.stdout, 'a.first: a b\nz.last: z\n', 'labels sorted, key: value')
  const runscript = await runCli(['inspect_singularity', file, 'runscript=1'], { env })
  t.equal(runscript.stdout, `${attributes.runscript}\n`)
  const environment = await runCli(['inspect_singularity', file, 'environment=1'], { env })
  t.equal(environment.stdout, '=== /.singularity.d/env/10-docker2singularity.sh ===\n#!/bin/sh\nexport A=1\n\n=== /.singularity.d/env/90-environment.sh ===\n#!/bin/sh\n# custom\n\n')
  const deffile = await runCli(['inspect_singularity', file, 'deffile=1'], { env })
  t.equal(deffile.stdout, 'bootstrap: docker-daemon\nfrom: ns/img:1\n', 'deffile from Def.FILE')
  const all = await runCli(['inspect_singularity', file, 'all=1'], { env })
  t.equal(all.code, 0, all.stderr)
  const parsed = JSON.parse(all.stdout)
  t.equal(parsed.type, 'container')
  t.same(Object.keys(parsed.data.attributes).sort(), ['deffile', 'environment', 'labels', 'runscript', 'startscript'])
  t.same(parsed.data.attributes.labels, attributes.labels)
  const json = await runCli(['inspect_singularity', file, 'labels=1', '--json'], { env })
  t.same(JSON.parse(json.stdout), { data: { attributes: { labels: attributes.labels } }, type: 'container' }, "--json: Apptainer's shape")
  const summary = await runCli(['inspect_singularity', file], { env })
  t.match(summary.stdout, /  a\.first: a b\n/, 'the summary shows the labels of the metadata object')
  t.match(summary.stdout, /JSON\.Generic/)
})

t.test('a file of an earlier version (JSON.Labels, no metadata object)', async (t) => {
  const old = sif('old.sif', '{"a":"b"}')
  const labels = await runCli(['inspect_singularity', old, 'labels=1'], { env })
  t.equal(labels.code, 0, labels.stderr)
  t.equal(labels.stdout, 'a: b\n')
  oneLine(t, await runCli(['inspect_singularity', old, 'runscript=1'], { env }), /^error: .*old\.sif has no inspect-metadata\.json object \(written by an earlier version\): its runscript can only be read by running it/m)
})

t.test('a damaged metadata object: one line naming the file', async (t) => {
  oneLine(t, await runCli(['inspect_singularity', current('bad.sif', '{"data":'), 'labels=1'], { env }), /^error: .*bad\.sif: the inspect-metadata\.json object is not valid JSON$/m)
  oneLine(t, await runCli(['inspect_singularity', current('shape.sif', { data: { attributes: { labels: { a: 1 } } } }), 'labels=1'], { env }), /^error: .*shape\.sif: inspect-metadata\.json: labels is not an object of strings$/m)
})
