// Conversion at scale: create_singularity of a 3 GB (or more) image of a real distribution's
// files (bench/bigImage.ts: Debian bookworm with Qt 5, VTK 9, Boost, SciPy and TeX Live dev
// packages, built once and kept). Runs only when named, `npm run bench -- bigimage`: a run
// takes 10 to 20 minutes (more the first time, when the image is built). Each line is a ratio
// measured in this run:
//   - ours (zstd level 3) / bare `docker export | tar2sqfs` with the same compressor options,
//     medians of alternated runs: <= 1.15
//   - peak memory of our process / 256 MB: <= 1
//   - our seconds per byte of image on the big image / the same on the singularity bench's
//     generated 500 MB image, converted in this run: <= 1.2 (the conversion stays linear)
//   - peak disk taken in the output and temporary directories / output size: <= 1
// and, for information, the bare pipe's own seconds per byte, big against small: what of the
// growth is tar2sqfs's and the engine's rather than ours.
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, statSync } from 'node:fs'
import { median, type BenchLine } from './measure.js'
import { ensureBigImage } from './bigImage.js'
import { allocated, barePipe, buildGeneratedImage, conversionWork, ours, sh, sifPath, type Measured } from './sifConversion.js'

/** Not in a plain `npm run bench`: it takes too long. */
export const onlyWhenNamed = true

/** The 500 MB generated image, under a tag of its own (the singularity bench removes its own at its end). */
const smallImage = 'casa-bench-big/generated:1'

const imageSize = (tag: string) => Number(sh('docker', ['image', 'inspect', '-f', '{{.Size}}', tag]).trim())

/** Files, directories and links in the image's root filesystem. */
function fileCount(tag: string): number {
  const out = execFileSync('bash', ['-o', 'pipefail', '-c', `docker run --rm --network=none --entrypoint find ${tag} / -xdev | wc -l`], { encoding: 'utf8' })
  return Number(out.trim())
}

export default async function bigImageBench(): Promise<BenchLine[]> {
  // CASA_BENCH_BIG_IMAGE measures another image the engine holds instead (a quick check of the bench itself).
  const other = process.env.CASA_BENCH_BIG_IMAGE
  const big = other ? { tag: other, size: imageSize(other), buildSeconds: 0 } : await ensureBigImage()
  const bigFiles = fileCount(big.tag)
  const megabytes = Number(process.env.CASA_BENCH_SIF_MB ?? 500)
  const { files: smallFiles } = buildGeneratedImage(megabytes, smallImage)
  const smallSize = imageSize(smallImage)
  const runs = Number(process.env.CASA_BENCH_BIG_RUNS ?? 3)
  const where = conversionWork()
  try {
    // Warm the engine's caches for both images (24 GiB of memory holds them).
    for (const tag of [big.tag, smallImage]) execFileSync('bash', ['-c', `docker save ${tag} > /dev/null`])
    const bigOurs: Measured[] = []
    const bigBare: number[] = []
    const smallOurs: Measured[] = []
    const smallBare: number[] = []
    /** Ours into an empty output directory, so that its peak disk is this run's alone. */
    const oursAlone = (tag: string) => {
      rmSync(where.out, { recursive: true, force: true })
      mkdirSync(where.out)
      return ours(where, tag, 'zstd')
    }
    let bigOutputAllocated = 0
    let bigSifSize = 0
    // Alternated, a sync before each (the SIF of the run before is still being written back).
    for (let i = 0; i < runs; i++) {
      sh('sync', [])
      bigBare.push(barePipe(where, big.tag))
      sh('sync', [])
      bigOurs.push(await oursAlone(big.tag))
      bigOutputAllocated = allocated([where.out])
      bigSifSize = statSync(sifPath(where, big.tag)).size
      sh('sync', [])
      smallBare.push(barePipe(where, smallImage))
      sh('sync', [])
      smallOurs.push(await oursAlone(smallImage))
    }
    const oursMs = median(bigOurs.map((r) => r.ms))
    const bareMs = median(bigBare)
    const smallOursMs = median(smallOurs.map((r) => r.ms))
    const smallBareMs = median(smallBare)
    const peakRssMB = Math.max(...bigOurs.map((r) => r.peakRssMB))
    const peakDisk = Math.max(...bigOurs.map((r) => r.peakDisk))
    const perByte = oursMs / big.size / (smallOursMs / smallSize)
    const barePerByte = bareMs / big.size / (smallBareMs / smallSize)
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`
    const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`
    const mbps = (bytes: number, ms: number) => `${Math.round(bytes / 1e6 / (ms / 1000))} MB/s`
    const bigNote = `${gb(big.size)} image, ${bigFiles} files${big.buildSeconds ? `, built in ${Math.round(big.buildSeconds)} s` : ''}`
    return [
      {
        name: 'bigimage create_singularity zstd-3 vs bare docker export | tar2sqfs',
        ours: oursMs,
        baseline: bareMs,
        unit: 'ms',
        ratio: oursMs / bareMs,
        goal: 1.15,
        note: `${bigNote}, SIF ${gb(bigSifSize)}; medians of ${runs} alternated runs: ${s(oursMs)} vs ${s(bareMs)} (ours ${bigOurs.map((r) => s(r.ms)).join(', ')}; bare ${bigBare.map(s).join(', ')})`,
      },
      { name: 'bigimage create_singularity peak memory of our process vs 256 MB', ours: peakRssMB, baseline: 256, unit: 'MB', ratio: peakRssMB / 256, goal: 1 },
      {
        name: `bigimage our seconds per byte, big image vs the ${megabytes} MB generated one`,
        ours: oursMs,
        baseline: smallOursMs,
        unit: 'ms',
        ratio: perByte,
        goal: 1.2,
        note: `${mbps(big.size, oursMs)} vs ${mbps(smallSize, smallOursMs)}; small: ${gb(smallSize)} image, ${smallFiles} files, ours ${smallOurs.map((r) => s(r.ms)).join(', ')}`,
      },
      { name: 'bigimage peak disk (output + temp dirs) vs output size', ours: peakDisk / 1e6, baseline: bigOutputAllocated / 1e6, unit: 'MB', ratio: peakDisk / bigOutputAllocated, goal: 1.0 },
      {
        name: `bigimage bare pipe seconds per byte, big image vs the ${megabytes} MB one`,
        ours: bareMs,
        baseline: smallBareMs,
        unit: 'ms',
        ratio: barePerByte,
        note: `${mbps(big.size, bareMs)} vs ${mbps(smallSize, smallBareMs)}; small bare ${smallBare.map(s).join(', ')}, small ours/bare ${(smallOursMs / smallBareMs).toFixed(2)}`,
      },
    ]
  } finally {
    rmSync(where.work, { recursive: true, force: true })
    // The big image is kept for the next run; the generated one is made again in seconds.
    spawnSync('docker', ['image', 'rm', smallImage])
  }
}
