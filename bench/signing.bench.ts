// Signing and verifying SIF files, on a generated docker image of about 500 MB
// (CASA_BENCH_SIGN_MB makes it smaller). Each line is a ratio measured in this run:
//   - create_singularity sign=1 / create_singularity (zstd, medians of 3 alternated runs): <= 1.1
//     (the partition's sha256 comes from the md5 read-back pass; the .md5 of the signed file
//     takes one more read of the file, from the page cache)
//   - verify_singularity of the signed file / sha256sum of the same file: <= 1.2
// The image has its own name (casa-bench-sign/...): the singularity group builds and removes its own.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as openpgp from 'openpgp'
import { median, timeCommand, type BenchLine } from './measure.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'casa_distro_admin.js')
const image = 'casa-bench-sign/generated:1'
const base = 'casa-bench-sign/base:1'

/** About `megabytes` of files, text-like (compressible) and one in eight binary-like. */
function writeFiles(dir: string, megabytes: number): number {
  let seed = 4242
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) / 0x80000000)
  const words = ['sif', 'apptainer', 'signature', 'brainvisa', 'volume', 'mesh', 'import', 'return', '0.5', '{', '}', '=']
  let made = 0
  let n = 0
  while (made < megabytes * 1e6) {
    const size = Math.floor(2000 + rand() * rand() * 60000)
    const parts: string[] = []
    for (let length = 0; length < size; ) {
      const w = words[Math.floor(rand() * words.length)]!
      parts.push(w)
      length += w.length + 1
    }
    let data = Buffer.from(parts.join(' '))
    if (n % 8 === 0) data = Buffer.from(data.map((b, i) => (b * 31 + i * 17 + Math.floor(rand() * 256)) & 0xff))
    if (n % 500 === 0) mkdirSync(join(dir, `d${n / 500}`), { recursive: true })
    writeFileSync(join(dir, `d${Math.floor(n / 500)}`, `f${n}.dat`), data)
    made += data.length
    n++
  }
  return n
}

function buildImage(megabytes: number): number {
  const context = mkdtempSync(join(tmpdir(), 'casa-bench-sign-ctx-'))
  try {
    const files = writeFiles(join(context, 'data'), megabytes)
    execFileSync('cp', ['/bin/busybox', join(context, 'busybox')])
    writeFileSync(join(context, 'bb.Dockerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n')
    execFileSync('docker', ['build', '--network=host', '-q', '-f', join(context, 'bb.Dockerfile'), '-t', base, context], { stdio: 'ignore' })
    writeFileSync(join(context, 'Dockerfile'), `FROM ${base}\nCOPY data /opt/data\n`)
    writeFileSync(join(context, '.dockerignore'), 'busybox\nbb.Dockerfile\n')
    execFileSync('docker', ['build', '--network=host', '-q', '-t', image, context], { stdio: 'ignore' })
    return files
  } finally {
    rmSync(context, { recursive: true, force: true })
  }
}

export default async function signingBench(): Promise<BenchLine[]> {
  const megabytes = Number(process.env.CASA_BENCH_SIGN_MB ?? 500)
  const files = buildImage(megabytes)
  const work = mkdtempSync(join(tmpdir(), 'casa-bench-sign-'))
  try {
    const key = await openpgp.generateKey({ userIDs: [{ name: 'Bench' }], format: 'armored' })
    writeFileSync(join(work, 'secret.asc'), key.privateKey)
    writeFileSync(join(work, 'public.asc'), key.publicKey)
    writeFileSync(join(work, 'casa.config.ts'), 'export default {}\n')
    const env = { ...process.env, HOME: work, CASA_CONFIG: join(work, 'casa.config.ts'), CI: 'true', NO_COLOR: '1' }
    const out = join(work, 'out')
    mkdirSync(out)
    const sif = join(out, 'casa-bench-sign_generated_1.sif')
    const create = (...extra: string[]) => timeCommand([process.execPath, bin, '-r', out, 'create_singularity', image, 'compressor=zstd', 'force=1', ...extra], { env })
    execFileSync('bash', ['-c', `docker save ${image} > /dev/null`]) // warm the engine's caches
    const plain: number[] = []
    const signed: number[] = []
    for (let i = 0; i < 3; i++) {
      execFileSync('sync')
      plain.push(create())
      execFileSync('sync')
      signed.push(create('sign=1', `key=${join(work, 'secret.asc')}`))
    }
    // The file is now the signed one: verify it, against sha256sum reading the same file.
    const verifyRuns: number[] = []
    const shaRuns: number[] = []
    for (let i = 0; i < 3; i++) {
      shaRuns.push(timeCommand(['sha256sum', sif]))
      verifyRuns.push(timeCommand([process.execPath, bin, 'verify_singularity', sif, `keyring=${join(work, 'public.asc')}`], { env }))
    }
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`
    const signMs = median(signed)
    const plainMs = median(plain)
    const verifyMs = median(verifyRuns)
    const shaMs = median(shaRuns)
    return [
      { name: 'create_singularity sign=1 vs create_singularity (zstd)', ours: signMs, baseline: plainMs, unit: 'ms', ratio: signMs / plainMs, goal: 1.1, note: `${megabytes} MB image, ${files} files; medians of 3 alternated runs: ${s(signMs)} vs ${s(plainMs)} (signed ${signed.map(s).join(', ')}; plain ${plain.map(s).join(', ')})` },
      { name: 'verify_singularity vs sha256sum of the file', ours: verifyMs, baseline: shaMs, unit: 'ms', ratio: verifyMs / shaMs, goal: 1.2, note: `medians of 3 alternated runs: ${s(verifyMs)} vs ${s(shaMs)} (verify ${verifyRuns.map(s).join(', ')}; sha256sum ${shaRuns.map(s).join(', ')})` },
    ]
  } finally {
    rmSync(work, { recursive: true, force: true })
    spawnSync('docker', ['image', 'rm', image, base])
  }
}
