// create_release_plan over 100 generated components (bare repositories as file:// remotes,
// see releaseFixtures.ts), each goal a ratio measured in this run (medians of alternated runs):
//   - cold: the CLI run with its mirror cache wiped / the plain git a script would run for
//     each component one after the other (`git ls-remote`, then `git init --bare` and
//     `git fetch '+refs/*:refs/*'`, which is what `clone --mirror` does): <= 0.6 (ours also
//     reads the versions, writes the plan and starts node);
//   - warm: a second CLI run with nothing changed / the cold CLI run: <= 0.5.
// Every run's plan is checked (100 components, each bug_fix version and file as generated),
// and the cache is checked to hold the mirrors, so a broken or cache-less run cannot pass.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { parse } from 'yaml'
import { mirrorCacheDir } from '../lib/git/gitMirror.js'
import { compare, timeCommand, type BenchLine } from './measure.js'
import { makeComponents, type BenchComponent } from './releaseFixtures.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'casa_distro_admin.js')

/** Throw unless the plan file describes every component as generated. */
function checkPlan(file: string, components: readonly BenchComponent[]): void {
  const plan = parse(readFileSync(file, 'utf8')) as Record<string, Record<string, any>>
  const entries = Object.values(plan).flatMap((project) => Object.entries(project))
  if (entries.length !== components.length) throw new Error(`the plan lists ${entries.length} components, not ${components.length}`)
  for (const c of components) {
    const entry = plan[c.project]?.[c.name]
    if (entry?.bug_fix?.version !== c.bugFixVersion || entry.bug_fix.version_file !== c.versionFile || entry.error_messages.length) {
      throw new Error(`${c.name}: the plan says ${JSON.stringify(entry?.bug_fix)} ${entry?.error_messages ?? ''}, expected ${c.bugFixVersion} from ${c.versionFile}`)
    }
  }
}

export default async function (): Promise<BenchLine[]> {
  const count = Number(process.env.CASA_BENCH_RELEASE_COMPONENTS ?? 100)
  const work = mkdtempSync(join(tmpdir(), 'casa-bench-release-'))
  try {
    const components = makeComponents(join(work, 'remotes'), count)
    const repo = join(work, 'repo')
    const home = join(work, 'home')
    mkdirSync(repo)
    mkdirSync(home)
    const list = components.map(({ project, name, url }) => ({ project, name, url }))
    // releasePlan.jobs keeps its default: the bench measures what a user gets.
    writeFileSync(join(repo, 'casa.config.ts'), `export default { releasePlan: { components: ${JSON.stringify(list)} } }\n`)
    const env = { ...process.env, HOME: home, XDG_CACHE_HOME: join(home, '.cache'), CASA_CONFIG: join(repo, 'casa.config.ts'), NO_COLOR: '1', CI: 'true' }
    const cache = join(repo, mirrorCacheDir)
    const planFile = join(repo, 'release_plan.yaml')

    const ours = () => {
      rmSync(planFile, { force: true })
      const started = performance.now()
      const result = spawnSync(process.execPath, [bin, '-r', repo, 'create_release_plan'], { env, encoding: 'utf8' })
      const ms = performance.now() - started
      if (result.status !== 0) throw new Error(`create_release_plan failed: ${result.stderr.slice(-400)}`)
      checkPlan(planFile, components)
      const mirrors = readdirSync(cache, { recursive: true }).filter((p) => String(p).endsWith('.git'))
      if (mirrors.length !== count) throw new Error(`${cache} holds ${mirrors.length} mirrors, not ${count}: has the cache moved?`)
      return ms
    }
    const cold = () => {
      rmSync(cache, { recursive: true, force: true })
      return ours()
    }
    const gitEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0' }
    const fetched = join(work, 'baseline')
    const baseline = () => {
      rmSync(fetched, { recursive: true, force: true })
      let ms = 0
      for (const c of components) {
        const dir = join(fetched, `${c.name}.git`)
        ms += timeCommand(['git', 'ls-remote', '--quiet', c.url], { env: gitEnv })
        ms += timeCommand(['git', 'init', '--quiet', '--bare', dir], { env: gitEnv })
        ms += timeCommand(['git', '-C', dir, 'fetch', '--quiet', c.url, '+refs/*:refs/*'], { env: gitEnv })
      }
      const refs = spawnSync('git', ['-C', join(fetched, `${components[0]!.name}.git`), 'for-each-ref'], { encoding: 'utf8' }).stdout.trim().split('\n')
      if (refs.length !== components[0]!.refCount) throw new Error(`the baseline fetched ${refs.length} refs, not ${components[0]!.refCount}`)
      return ms
    }

    cold() // warms the config bundle cache, the file system cache and checks a first plan
    const lines: BenchLine[] = []
    lines.push(await compare(`create_release_plan, ${count} components, cold mirror cache vs git ls-remote + init --bare + fetch each`, cold, baseline, { runs: 3, goal: 0.6 }))
    // Each cold run leaves the cache warm for the warm run after it.
    lines.push(await compare(`create_release_plan, ${count} components, nothing changed vs cold mirror cache`, ours, cold, { runs: 3, goal: 0.5 }))
    return lines
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}
