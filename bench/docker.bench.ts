// Image definitions and create_docker. Each line is a ratio measured in this run:
//   - planning a generated catalog of 1000 definitions (find, parse, template, hash the
//     contexts, order, plan) / 1 s: <= 1, every definition parsed (not from the cache);
//   - cost per definition at 1000 / cost per definition at 100 (linear growth): <= 1.5;
//   - a no-op create_docker over an unchanged 10-image catalog (one CLI run) / plain
//     `docker build` of the same 10 contexts with a full layer cache (what the original does
//     on every run): <= 0.2.
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { loadCatalog } from '../lib/images/imageCatalog.js'
import { gatherFacts, planBuild, definitionOrder } from '../lib/images/buildPlan.js'
import { compare, launchedNodeEnv, median, timeCommand, type BenchLine } from './measure.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'casa_distro_admin.js')
const ns = 'casa-bench-docker'

/** `count` definitions, each depending on the one at half its index (a wide, deep graph). */
function generateCatalog(dir: string, count: number): void {
  for (let i = 0; i < count; i++) {
    const def = join(dir, `img${i}`, 'sys')
    mkdirSync(def, { recursive: true })
    const deps = i > 0 ? `dependencies:\n  - ../../img${Math.floor((i - 1) / 2)}/sys\n` : ''
    writeFileSync(join(def, 'casa_distro_docker.yaml'), `${deps}image_sources:\n  - name: img${i}\n    tags: ['%(system)s-%(casa_version)s', '%(system)s']\n    template_files_parameters: { n: '${i}' }\n`)
    writeFileSync(join(def, 'Dockerfile.template'), `FROM ${i > 0 ? `${ns}/img${Math.floor((i - 1) / 2)}:sys` : 'busybox'}\nRUN echo %(n)s > /n\n`)
    writeFileSync(join(def, 'script.sh'), `#!/bin/sh\necho definition ${i}\n`)
  }
}

let run = 0
/** Plan `dir` once, every definition parsed: new content each run, so the definition cache never answers. */
async function planTime(dir: string): Promise<number> {
  run++
  for (const entry of readdirSync(dir)) {
    const file = join(dir, entry, 'sys', 'casa_distro_docker.yaml')
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^(# run \d+\n)?/, `# run ${run}\n`))
  }
  const started = performance.now()
  const catalog = await loadCatalog({ searchPath: [dir], namespace: ns, templateParameters: {}, casaVersion: '3.0.0' })
  definitionOrder(catalog)
  const { facts } = await gatherFacts(catalog, catalog.images)
  await planBuild(catalog, { filter: '*', local: new Map() }, facts)
  return performance.now() - started
}

export default async function (): Promise<BenchLine[]> {
  const work = mkdtempSync(join(tmpdir(), 'casa-bench-docker-'))
  process.env.XDG_CACHE_HOME = join(work, 'cache') // the definitions parsed here stay out of the user's cache
  const lines: BenchLine[] = []
  try {
    const small = join(work, 'c100')
    const large = join(work, 'c1000')
    generateCatalog(small, 100)
    generateCatalog(large, 1000)
    await planTime(small) // warm up the module cache and the file system cache
    const t100 = median([await planTime(small), await planTime(small), await planTime(small)])
    const t1000 = median([await planTime(large), await planTime(large), await planTime(large)])
    lines.push({ name: 'plan 1000 generated definitions vs 1 s', ours: t1000, baseline: 1000, unit: 'ms', ratio: t1000 / 1000, goal: 1 })
    lines.push({ name: 'per-definition planning cost, 1000 vs 100', ours: t1000 / 1000, baseline: t100 / 100, unit: 'ms', ratio: t1000 / 1000 / (t100 / 100), goal: 1.5, note: `100: ${t100.toFixed(0)} ms, 1000: ${t1000.toFixed(0)} ms` })

    lines.push(await noOpBuild(work))
  } finally {
    rmSync(work, { recursive: true, force: true })
    const refs = execFileSync('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', `${ns}/*`], { encoding: 'utf8' }).split('\n').filter(Boolean)
    if (refs.length) spawnSync('docker', ['image', 'rm', '-f', ...refs])
  }
  return lines
}

/** A tiny local base image from Debian's static busybox (nothing can be pulled here). */
function busyboxBase(work: string): string {
  const tag = `${ns}/base:1`
  const context = join(work, 'busybox')
  mkdirSync(context)
  copyFileSync('/bin/busybox', join(context, 'busybox'))
  writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n')
  execFileSync('docker', ['build', '--network=host', '-q', '-t', tag, context], { stdio: 'ignore' })
  return tag
}

/** Ten independent images on the busybox test base, built once; then both ways measured. */
async function noOpBuild(work: string): Promise<BenchLine> {
  const base = busyboxBase(work)
  const repo = join(work, 'repo')
  const home = join(work, 'home')
  mkdirSync(home, { recursive: true })
  const contexts: string[] = []
  for (let i = 0; i < 10; i++) {
    const def = join(repo, 'share', 'docker', `noop${i}`, 'sys')
    mkdirSync(def, { recursive: true })
    writeFileSync(join(def, 'casa_distro_docker.yaml'), `image_sources:\n  - name: noop${i}\n    tags: ['1']\n`)
    const dockerfile = `FROM ${base}\nCOPY data.txt /data.txt\nRUN cat /data.txt > /copy && echo ${i} >> /copy\nENV N=${i}\n`
    writeFileSync(join(def, 'Dockerfile'), dockerfile)
    writeFileSync(join(def, 'data.txt'), `data of image ${i}\n`.repeat(200))
    // The same context, as the original would stage it, for the baseline.
    const context = join(work, `context${i}`)
    mkdirSync(context)
    writeFileSync(join(context, 'Dockerfile'), dockerfile)
    writeFileSync(join(context, 'data.txt'), `data of image ${i}\n`.repeat(200))
    contexts.push(context)
  }
  writeFileSync(join(repo, 'casa.config.ts'), `export default { namespace: '${ns}', imageSearchPath: ['{repository}/share/docker'] }\n`)
  const env = { ...process.env, HOME: home, CASA_CONFIG: join(repo, 'casa.config.ts'), CI: 'true', NO_COLOR: '1' }
  // the command as users run it: the launcher itself (its sh line defers NODE_EXTRA_CA_CERTS)
  const ours = () => timeCommand([bin, '-r', repo, 'create_docker'], { env })
  ours() // the first run builds everything
  const baseline = () => {
    const started = performance.now()
    contexts.forEach((context, i) => timeCommand(['docker', 'build', '--network=host', '--force-rm', '-q', '--tag', `${ns}/baseline${i}:1`, context]))
    return performance.now() - started
  }
  baseline() // fill the layer cache
  // How much of ours is the fixed start-up (node, loading the casa.config.ts), for the note.
  const startup = median([0, 1, 2].map(() => timeCommand([bin, '-r', repo, 'show_config'], { env })))
  // The floor: node starting and doing nothing, as the launcher starts it. What the goal leaves
  // ours above it says how much of it is ours to cut at all on this machine.
  const bareNode = median([0, 1, 2].map(() => timeCommand([process.execPath, '-e', '0'], { env: launchedNodeEnv(env) })))
  const withCa = process.env.NODE_EXTRA_CA_CERTS ? median([0, 1, 2].map(() => timeCommand([process.execPath, '-e', '0'], { env }))) : undefined
  // Seven alternated pairs: a run of ours is 0.15 s, and this shared machine moves single runs
  // of either side by 20%; three pairs let one slow run of ours decide the ratio.
  const line = await compare('no-op create_docker (10 images) vs docker build of the same 10 with a full cache', ours, baseline, {
    runs: 7,
    goal: 0.2,
    note: `start-up with config loading (show_config): ${startup.toFixed(0)} ms; bare node (node -e 0): ${bareNode.toFixed(0)} ms${withCa === undefined ? '' : ` (${withCa.toFixed(0)} ms reading this environment's NODE_EXTRA_CA_CERTS)`}`,
  })
  line.note += `; the floor, bare node vs the baseline: ${(bareNode / line.baseline).toFixed(2)}`
  return line
}
