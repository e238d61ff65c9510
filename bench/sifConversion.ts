// What the conversion benches share (singularity: a generated 500 MB image; bigimage: a
// 3 GB Debian one): the generated image, our create_singularity run with its peak disk and
// memory sampled, and the baseline it is held to, the bare `docker export | tar2sqfs`.
import { execFileSync, spawn } from 'node:child_process'
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { sifFileName } from '../lib/singularity/sifConvert.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'casa_distro_admin.js')

/** The generated image of the singularity bench, and its busybox base. */
export const generatedImage = 'casa-bench-sif/generated:1'
export const generatedBase = 'casa-bench-sif/base:1'

/** Deterministic pseudo-random text (compressible like source code and data files). */
function* generatedFiles(totalBytes: number): Generator<[string, Buffer]> {
  const words = ['brainvisa', 'anatomist', 'soma', 'axon', 'morphologist', 'import', 'return', 'self', 'def', 'class', '0.25', '1024', 'volume', 'mesh', 'nifti', 'left', 'right', '{', '}', '(', ')', '=', ';']
  let seed = 12345
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) / 0x80000000)
  let made = 0
  let n = 0
  while (made < totalBytes) {
    const size = Math.floor(2000 + rand() * rand() * 60000)
    const parts: string[] = []
    let length = 0
    while (length < size) {
      const w = words[Math.floor(rand() * words.length)]!
      parts.push(w)
      length += w.length + 1
    }
    let data = Buffer.from(parts.join(rand() < 0.1 ? '\n' : ' '))
    // One file in eight holds binary-looking data that compresses little.
    if (n % 8 === 0) data = Buffer.from(data.map((b, i) => (b * 31 + i * 17 + Math.floor(rand() * 256)) & 0xff))
    yield [`d${Math.floor(n / 500)}/f${n}.dat`, data]
    made += data.length
    n++
  }
}

export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Build the generated image (`megabytes` of files in a busybox image) as `tag`; its file count. */
export function buildGeneratedImage(megabytes: number, tag: string = generatedImage): { files: number } {
  const context = mkdtempSync(join(tmpdir(), 'casa-bench-sif-ctx-'))
  try {
    let files = 0
    for (const [path, data] of generatedFiles(megabytes * 1e6)) {
      const full = join(context, 'data', path)
      if (files % 500 === 0) mkdirSync(join(full, '..'), { recursive: true })
      writeFileSync(full, data)
      files++
    }
    writeFileSync(join(context, 'bb.Dockerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\nENV PATH=/usr/bin:/bin\n')
    execFileSync('cp', ['/bin/busybox', join(context, 'busybox')])
    sh('docker', ['build', '--network=host', '-q', '-f', join(context, 'bb.Dockerfile'), '-t', generatedBase, context])
    writeFileSync(join(context, 'Dockerfile'), `FROM ${generatedBase}\nCOPY data /opt/data\nCMD ["/bin/sh"]\n`)
    writeFileSync(join(context, '.dockerignore'), 'busybox\nbb.Dockerfile\n')
    sh('docker', ['build', '--network=host', '-q', '-t', tag, context])
    return { files }
  } finally {
    rmSync(context, { recursive: true, force: true })
  }
}

/** Disk taken by the files under these directories (allocated blocks). */
export function allocated(dirs: string[]): number {
  let total = 0
  const walk = (dir: string) => {
    let names: string[]
    try {
      names = readdirSync(dir)
    } catch {
      return
    }
    for (const name of names) {
      const path = join(dir, name)
      try {
        const st = lstatSync(path)
        if (st.isDirectory()) walk(path)
        else total += st.blocks * 512
      } catch {
        // removed meanwhile
      }
    }
  }
  dirs.forEach(walk)
  return total
}

export interface Measured {
  ms: number
  peakDisk: number
  peakRssMB: number
}

/** Run a command, sampling the disk taken in `dirs` and the process's peak memory. */
export async function measured(argv: string[], dirs: string[], env: NodeJS.ProcessEnv = process.env): Promise<Measured> {
  const started = performance.now()
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  child.stderr.on('data', (c) => (err += c))
  let peakDisk = 0
  let peakRssMB = 0
  const sample = () => {
    peakDisk = Math.max(peakDisk, allocated(dirs))
    try {
      const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))
      if (hwm) peakRssMB = Math.max(peakRssMB, Number(hwm[1]) / 1024)
    } catch {
      // exited
    }
  }
  const timer = setInterval(sample, 100)
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)))
  clearInterval(timer)
  const ms = performance.now() - started
  if (code !== 0) throw new Error(`${argv.join(' ')} failed: ${err.slice(-400)}`)
  return { ms, peakDisk, peakRssMB }
}

export function timed(fn: () => void): number {
  const started = performance.now()
  fn()
  return performance.now() - started
}

/** A place to convert in: the output and temporary directories, and the environment of our runs. */
export interface ConversionWork {
  work: string
  out: string
  tmp: string
  env: NodeJS.ProcessEnv
}

export function conversionWork(): ConversionWork {
  const work = mkdtempSync(join(tmpdir(), 'casa-bench-sif-'))
  const out = join(work, 'out')
  const tmp = join(work, 'tmp')
  ;[out, tmp].forEach((d) => mkdirSync(d))
  writeFileSync(join(work, 'casa.config.ts'), 'export default {}\n')
  const env = { ...process.env, HOME: work, CASA_CONFIG: join(work, 'casa.config.ts'), TMPDIR: tmp, CI: 'true', NO_COLOR: '1' }
  return { work, out, tmp, env }
}

/** Our create_singularity of `image` into `where.out`, disk sampled in the output and temporary directories. */
export function ours(where: ConversionWork, image: string, compressor: string): Promise<Measured> {
  return measured([process.execPath, bin, '-r', where.out, 'create_singularity', image, `compressor=${compressor}`, 'force=1'], [where.out, where.tmp], where.env)
}

/** The SIF create_singularity writes for `image`. */
export function sifPath(where: ConversionWork, image: string): string {
  return join(where.out, sifFileName(image, '.sif'))
}

/** The baseline of the zstd lines: bare `docker export | tar2sqfs` at zstd level 3, in ms. */
export function barePipe(where: ConversionWork, image: string): number {
  const sqfs = join(where.tmp, 'bare.sqfs')
  return timed(() => {
    const container = sh('docker', ['create', '--entrypoint', '/x', image]).trim()
    try {
      execFileSync('bash', ['-o', 'pipefail', '-c', `docker export ${container} | tar2sqfs --quiet --force -c zstd -X level=3 -j $(nproc) ${sqfs}`])
    } finally {
      sh('docker', ['rm', '-f', container])
      rmSync(sqfs, { force: true })
    }
  })
}
