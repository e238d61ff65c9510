// create_singularity against the original's way and against the bare pipe, on a generated
// docker image (about 500 MB in tens of thousands of files; CASA_BENCH_SIF_MB makes it
// smaller). Each line is a ratio measured in this run:
//   - ours (gzip) / original's way (export, tar x, mksquashfs gzip, siftool new + add): <= 0.9
//   - ours (zstd level 3) / the same original's way: <= 0.45
//   - ours / bare `docker export | tar2sqfs` with the same compressor (zstd): <= 1.15
//   - peak disk taken in the output and temporary directories / output size: <= 1
//   - peak memory of our process / 256 MB: <= 1
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { median, type BenchLine } from './measure.js'
import { allocated, barePipe, buildGeneratedImage, conversionWork, generatedBase as base, generatedImage as image, ours as oursOn, sh, sifPath, timed } from './sifConversion.js'

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
  const { files } = buildGeneratedImage(megabytes)
  const where = conversionWork()
  const { work, out } = where
  const original = join(work, 'original')
  mkdirSync(original)
  const ours = (compressor: string) => oursOn(where, image, compressor)
  const outputSize = () => statSync(sifPath(where, image)).size
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
    const bareRun = () => barePipe(where, image)
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
