// The fixture of the bigimage bench: a real distribution's files at scale (3 GB or more, as
// `docker image inspect` reports Size), made here from Debian's packages since nothing can be
// pulled from Docker Hub. The minbase bookworm of the SIF parity tests (mmdebstrap | docker
// import), then large -dev and data packages installed by apt, one layer per group as a real
// image is built. Built once and kept by tag: a run that finds the tag skips the build (the
// first build downloads about 1 GB of .debs and takes 15 to 30 minutes on 2 cores).
//
// Build it ahead of a bench run: `npm run build && node dist/bench/bigImage.js`.
import { execFileSync, spawn } from 'node:child_process'
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { ensureDebianBase, present } from '../test/helpers/debianImage.js'

/** Change the number whenever the package groups change: a kept image of the old list is then not reused. */
export const bigImage = 'casa-bench-big/debian:bookworm-1'

/** One apt layer per group; together about 3.5 GB installed on the 0.1 GB base. */
export const packageGroups: readonly (readonly string[])[] = [
  ['build-essential', 'gfortran', 'cmake', 'git'],
  ['qtbase5-dev', 'qttools5-dev', 'qtdeclarative5-dev', 'libqt5svg5-dev', 'libqt5opengl5-dev', 'qtwebengine5-dev'],
  ['libvtk9-dev'],
  ['python3-scipy', 'python3-matplotlib', 'python3-pandas', 'python3-sklearn'],
  ['libboost-all-dev'],
  ['texlive-latex-extra', 'texlive-fonts-recommended', 'texlive-science'],
]

export interface BigImage {
  tag: string
  /** Bytes, as `docker image inspect` reports Size. */
  size: number
  /** Seconds this call spent building it (0 when it was kept from before). */
  buildSeconds: number
}

function dockerfile(base: string): string {
  const apt = (packages: readonly string[]) =>
    `RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${packages.join(' ')} >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*`
  return [`FROM ${base}`, ...packageGroups.map(apt), 'LABEL org.casa.bench=bigimage', 'CMD ["/bin/bash"]', ''].join('\n')
}

/** docker build, its output in a log file (named in the error when it fails). */
async function build(context: string, log: string): Promise<void> {
  const out = createWriteStream(log)
  // --network=host: the build's RUN steps reach the Debian mirror the way this machine does.
  const child = spawn('docker', ['build', '--network=host', '-t', bigImage, context], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.pipe(out)
  child.stderr.pipe(out)
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? 1)))
  out.end()
  if (code !== 0) throw new Error(`docker build of ${bigImage} failed, see ${log}`)
}

/** The big image, built if the engine does not hold it yet. */
export async function ensureBigImage(): Promise<BigImage> {
  let buildSeconds = 0
  if (!present(bigImage)) {
    const started = performance.now()
    const base = ensureDebianBase()
    const context = mkdtempSync(join(tmpdir(), 'casa-bench-big-'))
    const log = join(tmpdir(), `casa-bench-big-${process.pid}.log`)
    process.stderr.write(`building ${bigImage} (once; about 1 GB downloaded), log in ${log}\n`)
    try {
      writeFileSync(join(context, 'Dockerfile'), dockerfile(base))
      await build(context, log)
    } finally {
      rmSync(context, { recursive: true, force: true })
    }
    buildSeconds = (performance.now() - started) / 1000
  }
  const size = Number(execFileSync('docker', ['image', 'inspect', '-f', '{{.Size}}', bigImage], { encoding: 'utf8' }).trim())
  return { tag: bigImage, size, buildSeconds }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { tag, size, buildSeconds } = await ensureBigImage()
  console.log(`${tag}: ${(size / 1e9).toFixed(2)} GB${buildSeconds ? `, built in ${Math.round(buildSeconds)} s` : ', kept from before'}`)
}
