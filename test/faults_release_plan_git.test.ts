// create_release_plan and apply_release_plan over a git connection that drops: the remotes
// are served by git's own http-backend (test/helpers/gitHttp.ts, credentials in the URL)
// behind test/helpers/tcpProxy.ts, which cuts the connection (FIN or RST, either direction;
// bytes counted over all of git's connections) at 20 points spread over a full run, and
// stalls it once past git's own low-speed bound (GIT_HTTP_LOW_SPEED_LIMIT/_TIME, made
// small). After each fault (see test/helpers/faults.ts): the failure names the server with
// the password masked; nothing under a final name is partial (the plan files parse whole, the
// mirrors pass git fsck); the next run completes. apply_release_plan cut between two actions
// resumes from its journal: a post-receive hook on every remote logs each ref update, and a
// cut run plus its re-run make exactly the updates of one clean run (no action redone), the
// re-run skipping every action the journal holds. The counts are printed (quoted in the
// README's reliability section).
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { runCli } from './helpers/cli.js'
import { injectFaults } from './helpers/faults.js'
import { cmakeVersion, git, TestRemote } from './helpers/git.js'
import { serveGitHttp } from './helpers/gitHttp.js'
import { startTcpProxy } from './helpers/tcpProxy.js'
import { tempDir } from './helpers/tmp.js'

const names = ['alpha', 'beta', 'gamma']
const password = 'fault-s3cret'
// git's own bound on a stalled HTTP transfer: below 1000 bytes/s for 3 s
const stallEnv = { GIT_HTTP_LOW_SPEED_LIMIT: '1000', GIT_HTTP_LOW_SPEED_TIME: '3' }

async function setup(t: Parameters<typeof tempDir>[0] & { teardown(fn: () => unknown): void }) {
  const root = tempDir(t, 'casa-faults-git-')
  const hookLog = join(root, 'pushes.log')
  for (const [i, name] of names.entries()) {
    const remote = new TestRemote(root, name)
    // latest_release at 1.i.0, then more work at the same version: the plan sets 1.i.1 (set_version,
    // copy, then the old release kept as a tag and the candidate renamed: 4 actions, 6 ref updates)
    const released = remote.commit('master', { 'project_info.cmake': cmakeVersion(`1.${i}.0`), 'data.bin': randomBytes(40_000).toString('base64') })
    remote.setRef('latest_release', released)
    remote.commit('master', { 'src.c': `int ${name};\n`, 'more.bin': randomBytes(40_000).toString('base64') })
    const hook = join(remote.bare, 'hooks', 'post-receive')
    writeFileSync(hook, `#!/bin/sh\nwhile read old new ref; do echo "${name} $ref $old $new" >> ${hookLog}; done\n`)
    chmodSync(hook, 0o755)
  }
  const remotes = join(root, 'remotes')
  const pristine = join(root, 'pristine')
  cpSync(remotes, pristine, { recursive: true })
  const server = await serveGitHttp(remotes, 'casa', password)
  t.teardown(server.close)
  const proxy = await startTcpProxy({ targetPort: server.port, lifetimeMs: 1_800_000 })
  t.teardown(proxy.stop)
  const dir = tempDir(t, 'casa-faults-git-repo-')
  const home = join(dir, '.home')
  mkdirSync(home)
  const url = (name: string) => `http://casa:${password}@127.0.0.1:${proxy.port}/${name}.git`
  writeFileSync(join(dir, 'casa.config.ts'), `export default { releasePlan: { components: ${JSON.stringify(names.map((name) => ({ project: 'p', name, url: url(name) })))} } }\n`)
  const env = { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts') }
  const cli = (args: string[], extra: Record<string, string> = {}) => runCli(['-r', dir, ...args], { env: { ...env, ...extra } })
  const cache = join(dir, '.release-plan-cache')
  /** The mirrors of the cache that git does not find whole. */
  const brokenMirrors = () => {
    if (!existsSync(cache)) return []
    const broken: string[] = []
    const walk = (d: string) => {
      for (const name of readdirSync(d, { withFileTypes: true })) {
        if (!name.isDirectory()) continue
        const path = join(d, name.name)
        if (name.name.endsWith('.git') || existsSync(join(path, 'HEAD'))) {
          try {
            git(['-C', path, 'fsck', '--no-progress', '--connectivity-only'])
          } catch (error) {
            broken.push(`the mirror ${path} is not whole: ${String((error as { stderr?: string }).stderr ?? error).split('\n')[0]}`)
          }
        } else walk(path)
      }
    }
    walk(cache)
    return broken
  }
  const restoreRemotes = () => {
    rmSync(remotes, { recursive: true, force: true })
    cpSync(pristine, remotes, { recursive: true })
    rmSync(hookLog, { force: true })
  }
  const pushes = () => (existsSync(hookLog) ? readFileSync(hookLog, 'utf8').split('\n').filter(Boolean) : [])
  return { root, remotes, proxy, dir, cli, cache, brokenMirrors, restoreRemotes, pushes, server: new RegExp(`http://(casa:\\*\\*\\*@)?127\\.0\\.0\\.1:${proxy.port}/`) }
}

// 21 faults, each a run and its re-run of the CLI: minutes on a loaded machine, past tap's default
t.setTimeout(900_000)

t.test('create_release_plan cut at 20 points and stalled once', async (t) => {
  const s = await setup(t)
  const planFile = join(s.dir, 'release_plan.yaml')
  const htmlFile = join(s.dir, 'release_plan.html')
  const counts = await injectFaults(t, {
    proxy: s.proxy,
    // a cold run: every mirror cloned
    reset: () => {
      for (const f of [s.cache, planFile, htmlFile]) rmSync(f, { recursive: true, force: true })
    },
    run: (env = {}) => s.cli(['create_release_plan'], env),
    server: s.server,
    absorbs: true,
    secret: password,
    stallEnv,
    // A component that cannot be read is an error in the plan and the others go on (the
    // task's contract): the run says which one, naming the server, in one line.
    failed: (result, point) => {
      t.notMatch(result.stderr, /^\s+at /m, `${point}: no stack trace`)
      t.notMatch(result.stderr + result.stdout, new RegExp(password), `${point}: the password is not printed`)
      const failures = result.stderr.split('\n').filter((l) => /^error:/.test(l) || / ✖ /.test(l))
      for (const line of failures) t.match(line, s.server, `${point}: the failure names the server: ${line}`)
      const errors = existsSync(planFile) ? Object.values(parse(readFileSync(planFile, 'utf8')).p as Record<string, { error_messages: string[] }>).flatMap((c) => c.error_messages) : []
      for (const e of errors) t.match(e, s.server, `${point}: the plan's error names the server, masked`)
      if (failures.length === 0 && errors.length === 0 && result.code === 0) return true // git's curl retried on a fresh connection
      t.equal(failures.length, result.code === 0 ? errors.length : 1, `${point}: one line per component that could not be read (or one error)`)
    },
    damaged: () => {
      const problems = s.brokenMirrors()
      if (existsSync(planFile)) {
        try {
          parse(readFileSync(planFile, 'utf8'))
        } catch {
          problems.push('release_plan.yaml is not whole')
        }
      }
      if (existsSync(htmlFile) && !/<\/html>\s*$/.test(readFileSync(htmlFile, 'utf8'))) problems.push('release_plan.html is not whole')
      return problems
    },
    incomplete: () => {
      const plan = parse(readFileSync(planFile, 'utf8'))
      for (const name of names) {
        const c = plan.p?.[name]
        if (!c || c.error_messages.length) return `${name}: ${c ? c.error_messages[0] : 'not in the plan'}`
        if (c.bug_fix.revision !== git(['-C', join(s.remotes, `${name}.git`), 'rev-parse', 'master'])) return `${name}: not the remote's master`
      }
      return undefined
    },
  })
  t.ok(counts)
})

t.test('apply_release_plan cut at 20 points and stalled once: resumes from its journal, no action redone', async (t) => {
  const s = await setup(t)
  const created = await s.cli(['create_release_plan'])
  t.equal(created.code, 0, created.stderr)
  const journal = join(s.dir, 'release_plan_journal.jsonl')
  const journaled = () => (existsSync(journal) ? readFileSync(journal, 'utf8').split('\n').filter(Boolean).length : 0)
  // what one clean run pushes, taken in the first (clean) run of injectFaults
  let cleanPushes: string[] | undefined
  let journaledAtCut = 0
  let pushesAtCut = 0
  const counts = await injectFaults(t, {
    proxy: s.proxy,
    // the remotes as the plan found them, no journal, no mirror: the whole release to do
    reset: () => {
      s.restoreRemotes()
      rmSync(journal, { force: true })
      rmSync(s.cache, { recursive: true, force: true })
    },
    run: async (env = {}) => {
      const result = await s.cli(['apply_release_plan'], env)
      cleanPushes ??= result.code === 0 ? s.pushes() : undefined
      return result
    },
    server: s.server,
    absorbs: true,
    secret: password,
    stallEnv,
    afterCut: () => {
      journaledAtCut = journaled()
      pushesAtCut = s.pushes().length
    },
    damaged: () => s.brokenMirrors(),
    incomplete: (again) => {
      const skipped = Number(/(\d+) already done/.exec(again.stderr)?.[1] ?? 0)
      if (skipped !== journaledAtCut) return `the re-run skipped ${skipped} actions, the journal held ${journaledAtCut}`
      const all = s.pushes()
      // the ref updates of the cut run and its re-run, each made once: those of one clean run
      const kinds = (lines: string[]) => lines.map((l) => l.split(' ').slice(0, 2).join(' ')).sort()
      if (kinds(all).join() !== kinds(cleanPushes ?? []).join()) return `ref updates ${kinds(all).join(', ')} (after the cut: ${pushesAtCut}) are not those of one clean run: ${kinds(cleanPushes ?? []).join(', ')}`
      if (journaled() !== names.length * 4) return `${journaled()} actions journaled, not ${names.length * 4}`
      for (const [i, name] of names.entries()) {
        const bare = join(s.remotes, `${name}.git`)
        const refs = git(['-C', bare, 'for-each-ref', '--format=%(refname)']).split('\n')
        if (!refs.includes('refs/heads/latest_release') || refs.includes('refs/heads/release_candidate') || !refs.includes(`refs/tags/1.${i}.0`)) return `${name}: refs ${refs.join(' ')}`
        if (!git(['-C', bare, 'show', 'latest_release:project_info.cmake']).includes(`BRAINVISA_PACKAGE_VERSION_PATCH 1`)) return `${name}: latest_release is not 1.${i}.1`
      }
      return undefined
    },
  })
  t.ok(counts)
})
