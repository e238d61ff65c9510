// lib/sif/sifWriter, lib/sif/sifReader and lib/singularity/rootfs on their own: a SIF assembled from a squashfs
// made by tar2sqfs is read by siftool and by our reader; the rootfs stream keeps GNU and PAX
// archives' entries byte for byte and replaces only what it generates.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { RootfsStream } from '../lib/singularity/rootfs.js'
import { sifFileName, temporaryDirectory } from '../lib/singularity/sifConvert.js'
import { dockerEnvScript, runscript } from '../lib/singularity/rootfsLayout.js'
import { primaryPartition, readObject, readSif } from '../lib/sif/sifReader.js'
import { dataTypes, planSif } from '../lib/sif/sifWriter.js'
import { tempDir } from './helpers/tmp.js'

const config = { reference: 'ns/img:1', env: ['PATH=/bin', 'FOO=it\'s'], entrypoint: [], cmd: ['/bin/sh'], labels: { a: 'b' } }

async function transform(tar: Buffer): Promise<{ out: Buffer; stream: RootfsStream }> {
  const stream = new RootfsStream(config)
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  // Odd chunk sizes: headers and records split across chunks.
  const pieces: Buffer[] = []
  for (let i = 0; i < tar.length; i += 777) pieces.push(tar.subarray(i, i + 777))
  await new Promise<void>((resolve, reject) => Readable.from(pieces).pipe(stream).on('end', resolve).on('error', reject))
  return { out: Buffer.concat(chunks), stream }
}

for (const format of ['gnu', 'pax'] as const) {
  t.test(`rootfs stream over a ${format} archive`, async (t) => {
    const dir = tempDir(t)
    const src = join(dir, 'src')
    const long = `${'a'.repeat(90)}/${'b'.repeat(90)}`
    mkdirSync(join(src, long), { recursive: true })
    mkdirSync(join(src, '.singularity.d'), { recursive: true })
    writeFileSync(join(src, long, 'ünïcödé.txt'), 'x'.repeat(5000))
    writeFileSync(join(src, '.singularity.d', 'runscript'), 'old')
    symlinkSync(`/${long}/ünïcödé.txt`, join(src, 'link'))
    const tar = execFileSync('tar', ['-c', `--format=${format}`, '--numeric-owner', '-C', src, '.'], { maxBuffer: 1 << 26 })
    const { out, stream } = await transform(tar)
    t.same(stream.dropped, ['.singularity.d/runscript'])
    const listing = execFileSync('tar', ['-t', '-f', '-'], { input: out, encoding: 'utf8' }).split('\n')
    t.ok(listing.includes(`./${long}/ünïcödé.txt`), 'long non-ASCII path kept')
    t.ok(listing.includes('./link'))
    t.equal(listing.filter((l) => l.replace(/^\.\//, '') === '.singularity.d/runscript').length, 1, 'runscript once: ours')
    t.equal(listing.filter((l) => l.replace(/^\.\//, '').replace(/\/$/, '') === '.singularity.d').length, 1, 'existing directory not added twice')
    const extracted = join(dir, 'x')
    mkdirSync(extracted)
    execFileSync('tar', ['-x', '-C', extracted, '-f', '-'], { input: out })
    t.equal(readFileSync(join(extracted, long, 'ünïcödé.txt'), 'utf8'), 'x'.repeat(5000), 'file content intact')
    t.match(readFileSync(join(extracted, '.singularity.d/runscript'), 'utf8'), /^eval "set \$\{SINGULARITY_OCI_RUN\}"$/m, "Apptainer's docker runscript")
  })
}

t.test('a truncated export is an error', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'f'), 'y'.repeat(3000))
  const tar = execFileSync('tar', ['-c', '-C', dir, 'f'])
  await t.rejects(transform(tar.subarray(0, 1024)), /ended in the middle/)
})

t.test('env fragment and runscript quoting', async (t) => {
  const tricky = ['SPACES=a  b', 'DOLLAR=$HOME and ${X}', `QUOTES=it's "q"`, 'BACKSLASH=a\\b\\', 'BACKTICK=`id`']
  const env = dockerEnvScript({ ...config, env: [...config.env, ...tricky] })
  t.match(env, /if \[ -z "\$\{FOO:-\}" \]; then FOO='it'\\''s'; fi/)
  t.match(env, /PATH_INIT/)
  t.equal(execFileSync('sh', ['-c', `${env}\necho "$FOO|$PATH"`], { encoding: 'utf8', env: { PATH_APPEND: '/z' } }), "it's|/bin:/z\n")
  const values = execFileSync('sh', ['-c', `${env}\nprintf '%s\\n' "$SPACES" "$DOLLAR" "$QUOTES" "$BACKSLASH" "$BACKTICK"`], { encoding: 'utf8', env: {} })
  t.same(values.split('\n').slice(0, -1), tricky.map((a) => a.slice(a.indexOf('=') + 1)), 'tricky ENV values exactly as docker gives them')
})

t.test("runscript in Apptainer's docker form: arguments replace CMD, evaluated unless APPTAINER_NO_EVAL/SINGULARITY_NO_EVAL", async (t) => {
  const runs = (script: string, args: string[], env: Record<string, string> = {}) =>
    execFileSync('sh', ['-c', script, 'runscript', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: '/home/u', ...env } })
  const both = runscript({ entrypoint: ['printf', '[%s]'], cmd: ['a  b', '$X', `it's "q" \\ \`x\``] })
  t.match(both, /^eval "set \$\{SINGULARITY_OCI_RUN\}"$/m, 'the line Apptainer recognises')
  t.equal(runs(both, []), `[a  b][$X][it's "q" \\ \`x\`]`, "no argument: ENTRYPOINT then CMD, the image's words as they are")
  t.equal(runs(both, ['x y', '$HOME']), '[x y][/home/u]', 'arguments replace CMD and are evaluated, as Apptainer does')
  t.equal(runs(both, ['x y', '$HOME'], { APPTAINER_NO_EVAL: '1' }), '[x y][$HOME]', 'APPTAINER_NO_EVAL: arguments as they are')
  t.equal(runs(both, ['$HOME'], { SINGULARITY_NO_EVAL: '1' }), '[$HOME]', 'SINGULARITY_NO_EVAL too')
  t.equal(runs(both, [], { APPTAINER_NO_EVAL: '1' }), `[a  b][$X][it's "q" \\ \`x\`]`, 'no argument, no eval: the same words')
  const cmdOnly = runscript({ entrypoint: [], cmd: ['printf', '%s|', 'c 1'] })
  t.equal(runs(cmdOnly, []), 'c 1|', 'CMD only')
  t.equal(runs(cmdOnly, ['printf', '%s.', 'q']), 'q.', 'CMD replaced by the arguments')
  t.equal(runs(cmdOnly, ['printf', '%s.', 'q'], { APPTAINER_NO_EVAL: '1' }), 'q.', 'CMD replaced, no eval')
  const entryOnly = runscript({ entrypoint: ['printf', '<%s>'], cmd: [] })
  t.equal(runs(entryOnly, []), '<>', 'ENTRYPOINT only')
  t.equal(runs(entryOnly, ['1', '2']), '<1><2>', 'ENTRYPOINT with arguments')
  const neither = runscript({ entrypoint: [], cmd: [] })
  t.equal(execFileSync('sh', ['-c', neither], { encoding: 'utf8', input: 'echo from stdin\n' }), 'from stdin\n', 'neither: /bin/sh')
  t.equal(runs(neither, ['sh', '-c', 'echo sh']), 'sh\n', 'neither, with arguments: they are the command')
  t.equal(runs(entryOnly, ['-n', '-e']), '<-n><-e>', 'arguments starting with -')
  t.equal(runs(cmdOnly, ['printf', '<%s>', '-x'], { SINGULARITY_NO_EVAL: '1' }), '<-x>', 'arguments starting with -, no eval')
})

t.test('SIF written around a tar2sqfs squashfs, read by siftool and our reader', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'hello'), 'hello')
  const sqfs = join(dir, 'p.sqfs')
  execFileSync('bash', ['-c', `tar -c -C ${dir} hello | tar2sqfs -q -f ${sqfs}`])
  const part = readFileSync(sqfs)
  const plan = planSif({
    objects: [
      { type: dataTypes.deffile, name: 'def', data: Buffer.from('bootstrap: docker-daemon\n') },
      { type: dataTypes.labels, name: 'labels', data: Buffer.from('{"x":"y"}') },
    ],
    partitionSize: part.length,
    arch: 'arm64',
    time: 1700000000,
  })
  const sif = join(dir, 'a.sif')
  writeFileSync(sif, Buffer.concat([plan.head, part]))
  t.match(execFileSync('siftool', ['header', sif], { encoding: 'utf8' }), /Primary Architecture:\s+arm64/)
  t.match(execFileSync('siftool', ['list', sif], { encoding: 'utf8' }), /FS \(Squashfs\/\*System\/arm64\)/)
  t.same(execFileSync('siftool', ['dump', '3', sif]), part, 'siftool dump gives the squashfs back')
  const read = await readSif(sif)
  t.equal(read.descriptors.length, 3)
  t.equal(primaryPartition(read).offset % 4096, 0)
  t.equal((await readObject(read, read.descriptors[1]!)).toString(), '{"x":"y"}')
  writeFileSync(sif, Buffer.concat([plan.head, part.subarray(0, 100)]))
  await t.rejects(readSif(sif), /past the end of the file/)
})

t.test('temporary directory: APPTAINER_TMPDIR, then SINGULARITY_TMPDIR, then TMPDIR', async (t) => {
  t.equal(temporaryDirectory({ APPTAINER_TMPDIR: '/a', SINGULARITY_TMPDIR: '/s', TMPDIR: '/t' }), '/a')
  t.equal(temporaryDirectory({ SINGULARITY_TMPDIR: '/s', TMPDIR: '/t' }), '/s')
  t.equal(temporaryDirectory({ TMPDIR: '/t' }), '/t')
  t.equal(temporaryDirectory({}), tmpdir(), 'else the system default')
})

t.test('file names: / and : replaced by _', async (t) => {
  t.equal(sifFileName('cati/casa-dev:ubuntu-18.04', '.simg'), 'cati_casa-dev_ubuntu-18.04.simg')
  t.equal(sifFileName('cati/casa-run:5.3', '.sif'), 'cati_casa-run_5.3.sif')
})
