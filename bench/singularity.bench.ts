// create_singularity against the original's way and against the bare pipe, on a generated
// docker image (about 500 MB in tens of thousands of files; CASA_BENCH_SIF_MB makes it
// smaller). Each line is a ratio measured in this run:
//   - ours (gzip) / original's way (export, tar x, mksquashfs gzip, siftool new + add): <= 0.9
//   - ours (zstd level 3) / the same original's way: <= 0.45
//   - ours / bare `docker export | tar2sqfs` with the same compressor (zstd): <= 1.15
//   - peak disk taken in the output and temporary directories / output size: <= 1
//   - peak memory of our process / 256 MB: <= 1
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { median, type BenchLine } from './measure.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'casa_distro_admin.js')
const image = 'casa-bench-sif/generated:1'
const base = 'casa-bench-sif/base:1'

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

function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'pipe'] })
}

function buildImage(megabytes: number): { files: number } {
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
    sh('docker', ['build', '--network=host', '-q', '-f', join(context, 'bb.Dockerfile'), '-t', base, context])
    writeFileSync(join(context, 'Dockerfile'), `FROM ${base}\nCOPY data /opt/data\nCMD ["/bin/sh"]\n`)
    writeFileSync(join(context, '.dockerignore'), 'busybox\nbb.Dockerfile\n')
    sh('docker', ['build', '--network=host', '-q', '-t', image, context])
    return { files }
  } finally {
    rmSync(context, { recursive: true, force: true })
  }
}

/** Disk taken by the files under these directories (allocated blocks). */
function allocated(dirs: string[]): number {
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

/** Run a command, sampling the disk taken in `dirs` and the process's peak memory. */
async function measured(argv: string[], dirs: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ ms: number; peakDisk: number; peakRssMB: number }> {
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

function timed(fn: () => void): number {
  const started = performance.now()
  fn()
  return performance.now() - started
}

/** The original's way: docker export, tar x to disk (root), mksquashfs, siftool new + add. */
function originalWay(work: string, compressor: 'gzip'): { ms: number; peakDisk: number } {
  const unpacked = join(work, 'rootfs')
  const sqfs = join(work, 'image.squashfs')
  const sif = join(work, 'original.sif')
  mkdirSync(unpacked)
  let peakDisk = 0
  const ms = timed(() => {
    const container = sh('docker', ['create', '--entrypoint', '/x', image]).trim()
    try {
      execFileSync('bash', ['-o', 'pipefail', '-c', `docker export ${container} | tar -x -C ${unpacked}`])
    } finally {
      sh('docker', ['rm', '-f', container])
    }
    sh('mksquashfs', [unpacked, sqfs, '-comp', compressor, '-noappend', '-quiet', '-no-progress'])
    peakDisk = allocated([work])
    sh('siftool', ['new', sif])
    sh('siftool', ['add', '--datatype', '4', '--partfs', '1', '--parttype', '2', '--partarch', '2', '--groupid', '1', sif, sqfs])
    peakDisk = Math.max(peakDisk, allocated([work]))
  })
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work)
  return { ms, peakDisk }
}

export default async function singularityBench(): Promise<BenchLine[]> {
  const megabytes = Number(process.env.CASA_BENCH_SIF_MB ?? 500)
  const { files } = buildImage(megabytes)
  const work = mkdtempSync(join(tmpdir(), 'casa-bench-sif-'))
  const out = join(work, 'out')
  const tmp = join(work, 'tmp')
  const original = join(work, 'original')
  ;[out, tmp, original].forEach((d) => mkdirSync(d))
  writeFileSync(join(work, 'casa.config.ts'), 'export default {}\n')
  const env = { ...process.env, HOME: work, CASA_CONFIG: join(work, 'casa.config.ts'), TMPDIR: tmp, CI: 'true', NO_COLOR: '1' }
  const ours = (compressor: string) => measured([process.execPath, bin, '-r', out, 'create_singularity', image, `compressor=${compressor}`, 'force=1'], [out, tmp], env)
  const outputSize = () => statSync(join(out, 'casa-bench-sif_generated_1.sif')).size
  /** The output as it sits on disk: the SIF, its .md5 and .dockerid. */
  const outputAllocated = () => allocated([out])
  try {
    execFileSync('bash', ['-c', `docker save ${image} > /dev/null`]) // warm the engine's caches
    const oursGzip = await ours('gzip')
    const gzipSize = outputSize()
    const gzipAllocated = outputAllocated()
    const originalGzip = originalWay(original, 'gzip')
    // Ours with zstd and the bare pipe, alternated three times after a sync each (the
    // original's way leaves hundreds of MB being written back), medians compared.
    const bareRun = () =>
      timed(() => {
        const container = sh('docker', ['create', '--entrypoint', '/x', image]).trim()
        try {
          execFileSync('bash', ['-o', 'pipefail', '-c', `docker export ${container} | tar2sqfs --quiet --force -c zstd -X level=3 -j $(nproc) ${join(tmp, 'bare.sqfs')}`])
        } finally {
          sh('docker', ['rm', '-f', container])
          rmSync(join(tmp, 'bare.sqfs'), { force: true })
        }
      })
    const zstdRuns: Awaited<ReturnType<typeof ours>>[] = []
    const bareRuns: number[] = []
    for (let i = 0; i < 3; i++) {
      sh('sync', [])
      bareRuns.push(bareRun())
      sh('sync', [])
      zstdRuns.push(await ours('zstd'))
    }
    const oursZstd = { ms: median(zstdRuns.map((r) => r.ms)), peakRssMB: Math.max(...zstdRuns.map((r) => r.peakRssMB)) }
    const zstdSize = outputSize()
    const bare = median(bareRuns)
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`
    const mb = (bytes: number) => `${Math.round(bytes / 1e6)} MB`
    const image_ = `${megabytes} MB image, ${files} files`
    return [
      { name: 'create_singularity gzip vs original way (export, tar x, mksquashfs, siftool)', ours: oursGzip.ms, baseline: originalGzip.ms, unit: 'ms', ratio: oursGzip.ms / originalGzip.ms, goal: 0.9, note: `${image_}: ${s(oursGzip.ms)} vs ${s(originalGzip.ms)}, SIF ${mb(gzipSize)}` },
      { name: 'create_singularity zstd-3 vs original way (gzip)', ours: oursZstd.ms, baseline: originalGzip.ms, unit: 'ms', ratio: oursZstd.ms / originalGzip.ms, goal: 0.45, note: `${s(oursZstd.ms)} vs ${s(originalGzip.ms)}, SIF ${mb(zstdSize)}` },
      { name: 'create_singularity zstd-3 vs bare docker export | tar2sqfs', ours: oursZstd.ms, baseline: bare, unit: 'ms', ratio: oursZstd.ms / bare, goal: 1.15, note: `medians of 3 alternated runs: ${s(oursZstd.ms)} vs ${s(bare)} (ours ${zstdRuns.map((r) => s(r.ms)).join(', ')}; bare ${bareRuns.map(s).join(', ')})` },
      { name: 'create_singularity peak disk (output + temp dirs) vs output size', ours: oursGzip.peakDisk / 1e6, baseline: gzipAllocated / 1e6, unit: 'MB', ratio: oursGzip.peakDisk / gzipAllocated, goal: 1.0, note: `original way peaks at ${mb(originalGzip.peakDisk)} (unpacked tree + squashfs + SIF)` },
      { name: 'create_singularity peak memory of our process vs 256 MB', ours: Math.max(oursGzip.peakRssMB, oursZstd.peakRssMB), baseline: 256, unit: 'MB', ratio: Math.max(oursGzip.peakRssMB, oursZstd.peakRssMB) / 256, goal: 1 },
    ]
  } finally {
    rmSync(work, { recursive: true, force: true })
    spawnSync('docker', ['image', 'rm', image, base])
  }
}
