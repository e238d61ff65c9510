// Credentials in component URLs (passwords, tokens given as user names) never show: not in
// stdout/stderr (with -v or without), not in release_plan.yaml/.html nor what
// publish_release_plan uploads, not in show_config, not in push errors; apply_release_plan
// still authenticates, taking the URL with its credentials from the config. The remotes are
// real: unreachable ports, and git's smart-HTTP server behind basic authentication.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Worker } from 'node:worker_threads'
import { parse, stringify } from 'yaml'
import { runCli } from './helpers/cli.js'
import { git, packageJsonVersion, TestRemote } from './helpers/git.js'
import { serveGitHttp } from './helpers/gitHttp.js'
import { freePort } from './helpers/net.js'
import { tempDir } from './helpers/tmp.js'
import { redact, withoutCredentials } from '../lib/util/redact.js'
import { remoteUrl } from '../lib/release/releaseApply.js'
import { branchLink } from '../lib/release/releasePlanHtml.js'

const secret = /SECRET/

function setup(t: { teardown(fn: () => void): void }, components: { project: string; name: string; url: string }[]) {
  const dir = tempDir(t, 'casa-release-cred-')
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), `export default { releasePlan: { components: ${JSON.stringify(components)}, jobs: 3 }, hubs: { releasePlan: { upload: 'file://${dir}/hub' } } }\n`)
  const env = { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts') }
  return {
    dir,
    cli: (args: string[]) => runCli(['-r', dir, ...args], { env }),
    plan: () => parse(readFileSync(join(dir, 'release_plan.yaml'), 'utf8')),
    /** Every file the tool wrote for the plan, and the hub's copies. */
    files: () => ['release_plan.yaml', 'release_plan.html', ...(existsSync(join(dir, 'hub')) ? readdirSync(join(dir, 'hub')).map((f) => join('hub', f)) : [])].filter((f) => existsSync(join(dir, f))).map((f) => [f, readFileSync(join(dir, f), 'utf8')] as const),
  }
}

t.test('redact: passwords always, the whole userinfo over http(s), bare user names elsewhere kept', async (t) => {
  const cases: [string, string, string][] = [
    ['https://user:SECRETPW1@host/x.git', 'https://user:***@host/x.git', 'https://host/x.git'],
    ['https://SECRETTOK2@host/y.git', 'https://***@host/y.git', 'https://host/y.git'],
    ['https://x-access-token:SECRETTOK3@host/z.git', 'https://x-access-token:***@host/z.git', 'https://host/z.git'],
    ['HTTP://SECRETTOK@127.0.0.1:9/y.git', 'HTTP://***@127.0.0.1:9/y.git', 'HTTP://127.0.0.1:9/y.git'],
    ['ssh://user:SECRETPW@host/a.git', 'ssh://user:***@host/a.git', 'ssh://user@host/a.git'],
    ['sftp://u:SECRETPW@host/~/www', 'sftp://u:***@host/~/www', 'sftp://u@host/~/www'],
    ['ssh://git@host/a.git', 'ssh://git@host/a.git', 'ssh://git@host/a.git'],
    ['sftp://brainvisa@brainvisa.info/~/prod', 'sftp://brainvisa@brainvisa.info/~/prod', 'sftp://brainvisa@brainvisa.info/~/prod'],
    ['git@github.com:org/repo.git', 'git@github.com:org/repo.git', 'git@github.com:org/repo.git'],
    ['file:///tmp/x.git', 'file:///tmp/x.git', 'file:///tmp/x.git'],
    ['https://github.com/org/a@b', 'https://github.com/org/a@b', 'https://github.com/org/a@b'],
  ]
  for (const [url, masked, stripped] of cases) {
    t.equal(redact(url), masked, `redact ${masked}`)
    t.equal(withoutCredentials(url), stripped, `withoutCredentials ${stripped}`)
  }
  // In text, as git quotes it; a password holding an unencoded @; the password options.
  t.equal(redact(`fatal: unable to access 'https://u:SECRET@PW@h/x.git/': refused`), `fatal: unable to access 'https://u:***@h/x.git/': refused`)
  t.equal(redact('$ git clone --mirror --quiet https://SECRETTOK2@127.0.0.1:9/y.git /tmp/y'), '$ git clone --mirror --quiet https://***@127.0.0.1:9/y.git /tmp/y')
  t.equal(redact('mail admin@example.org, see https://host/x'), 'mail admin@example.org, see https://host/x')
  t.equal(redact('sshpass --password=SECRET x'), 'sshpass --password=*** x')
  t.equal(redact('ssh -o token s3cr3t x --secret S'), 'ssh -o token s3cr3t x --secret ***', 'an option word only, not a word ending in secret or token')
  t.equal(redact('create ~/.apptainer/keys/pgp-secret with apptainer key newpair'), 'create ~/.apptainer/keys/pgp-secret with apptainer key newpair')
  // The page's links never carry credentials, even from a plan written before they were left out.
  t.equal(branchLink({ vcs_url: 'https://SECRETTOK@forge.org/a/b.git', branch: 'master', revision: null, version: null }), 'https://forge.org/a/b/tree/master')
  // apply's URL: the config's when it is the plan's without credentials, else the plan's.
  const components = [{ project: 'p', name: 'a', url: 'https://SECRETTOK@forge.org/a.git' }]
  t.equal(remoteUrl('p', 'a', 'https://forge.org/a.git', components), 'https://SECRETTOK@forge.org/a.git')
  t.equal(remoteUrl('p', 'a', 'https://forge.org/moved.git', components), 'https://forge.org/moved.git')
  t.equal(remoteUrl('p', 'other', 'https://forge.org/a.git', components), 'https://forge.org/a.git')
})

t.test('unreachable remotes with credentials: plan, page, upload, progress, -v and show_config keep them secret', async (t) => {
  const port = await freePort() // nothing listens there
  const s = setup(t, [
    { project: 'p', name: 'pw', url: `http://user:SECRETPW1@127.0.0.1:${port}/x.git` },
    { project: 'p', name: 'tok', url: `http://SECRETTOK2@127.0.0.1:${port}/y.git` },
    { project: 'p', name: 'xat', url: `https://x-access-token:SECRETTOK3@127.0.0.1:${port}/z.git` },
  ])
  for (const args of [['create_release_plan'], ['-v', 'update_release_plan'], ['-v', 'publish_release_plan'], ['show_config'], ['show_config', 'json=1']]) {
    const r = await s.cli(args)
    t.notMatch(r.stdout + r.stderr, secret, `${args.join(' ')}: no secret printed`)
    if (args.includes('update_release_plan')) t.match(r.stderr, /\$ git /, `${args.join(' ')}: -v echoes the git commands`)
    if (args[0] === 'show_config') t.match(r.stdout, /http:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/x\.git/, `${args.join(' ')}: the URL shown masked`)
    if (args[0] === 'create_release_plan') t.match(r.stderr, /✖ p\/pw: cannot read http:\/\/user:\*\*\*@127\.0\.0\.1/, 'the failure says which URL, masked')
  }
  const plan = s.plan()
  t.equal(plan.p.pw.bug_fix.vcs_url, `http://127.0.0.1:${port}/x.git`, 'the plan keeps the URL without credentials')
  t.equal(plan.p.tok.latest_release.vcs_url, `http://127.0.0.1:${port}/y.git`)
  t.equal(plan.p.xat.release_candidate.vcs_url, `https://127.0.0.1:${port}/z.git`)
  t.match(plan.p.pw.error_messages[0], /^cannot read http:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/x\.git: /)
  // A plan written before credentials were left out: update_release_plan keeps the entries it
  // does not inspect, without their secrets.
  const old = s.plan()
  old.legacy = { gone: { ...old.p.tok, bug_fix: { ...old.p.tok.bug_fix, vcs_url: 'https://SECRETOLD@forge.org/gone.git' }, error_messages: ['cannot read https://user:SECRETOLD@forge.org/gone.git: refused'] } }
  writeFileSync(join(s.dir, 'release_plan.yaml'), stringify(old))
  const updated = await s.cli(['update_release_plan', 'pw'])
  t.notMatch(updated.stdout + updated.stderr, secret)
  t.equal(s.plan().legacy.gone.bug_fix.vcs_url, 'https://forge.org/gone.git', 'an old entry kept without its credentials')
  t.same(s.plan().legacy.gone.error_messages, ['cannot read https://user:***@forge.org/gone.git: refused'])
  t.equal((await s.cli(['publish_release_plan'])).code, 0)
  const files = s.files()
  t.same(files.map(([f]) => f).sort(), ['hub/release_plan.html', 'hub/release_plan.yaml', 'release_plan.html', 'release_plan.yaml'], 'plan files written and uploaded')
  for (const [file, text] of files) t.notMatch(text, secret, `${file}: no secret`)
})

t.test('apply over authenticated HTTP: pushes use the config credentials, a rejected push does not show them', async (t) => {
  const root = tempDir(t, 'casa-release-cred-remotes-')
  const remotes = { gamma: new TestRemote(root, 'gamma'), delta: new TestRemote(root, 'delta') }
  const gammaMaster = remotes.gamma.commit('master', { 'package.json': packageJsonVersion('1.0.0') })
  remotes.delta.commit('master', { 'package.json': packageJsonVersion('2.0.0') })
  const hook = join(remotes.delta.bare, 'hooks', 'pre-receive')
  writeFileSync(hook, '#!/bin/sh\necho "rejected by policy" >&2\nexit 1\n')
  chmodSync(hook, 0o755)
  const server = await serveGitHttp(join(root, 'remotes'), 'user', 'SECRETPW9')
  t.teardown(() => server.close())
  const s = setup(t, [
    { project: 'p', name: 'gamma', url: server.url('gamma', 'user:SECRETPW9') },
    { project: 'p', name: 'delta', url: server.url('delta', 'user:SECRETPW9') },
  ])
  const created = await s.cli(['-v', 'create_release_plan'])
  t.equal(created.code, 0, created.stderr)
  t.notMatch(created.stdout + created.stderr, secret)
  t.equal(s.plan().p.gamma.bug_fix.vcs_url, server.url('gamma'), 'the plan holds the URL without credentials')
  t.same(s.plan().p.gamma.error_messages, [], 'the authenticated remote was read')

  const applied = await s.cli(['-v', 'apply_release_plan', 'gamma'])
  t.equal(applied.code, 0, applied.stderr)
  t.notMatch(applied.stdout + applied.stderr, secret, 'apply -v: no secret printed')
  t.equal(remotes.gamma.refs()['refs/heads/latest_release'], gammaMaster, 'pushed with the credentials of the config')

  const rejected = await s.cli(['apply_release_plan', 'delta'])
  t.not(rejected.code, 0)
  t.match(rejected.stderr, /p\/delta: git push refs\/heads\/release_candidate to http:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/delta\.git failed: remote: rejected by policy/)
  t.notMatch(rejected.stdout + rejected.stderr, secret, 'a rejected push: no secret printed')
  for (const [file, text] of s.files()) t.notMatch(text, secret, `${file}: no secret`)
  t.notMatch(readFileSync(join(s.dir, 'release_plan_journal.jsonl'), 'utf8'), secret, 'the journal: no secret')
})

/**
 * Every command line seen while `work` runs: a worker thread reads /proc/<pid>/cmdline of every
 * process in a tight loop (git's own children, like git-remote-http, included), and a `git`
 * first on PATH records its arguments before running the real one.
 */
/**
 * What `work` runs, seen two ways: `lines`, every command line of the machine sampled from
 * /proc while it runs (other tests' processes included: right for "no secret anywhere"), and
 * `gitCalls`, the git commands of this run only (a git first on its PATH records its argv).
 */
async function watchCommandLines<T>(work: (env: Record<string, string>) => Promise<T>): Promise<{ result: T; lines: string[]; gitCalls: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'casa-cmdlines-'))
  const log = join(dir, 'git-argv.log')
  mkdirSync(join(dir, 'bin'))
  writeFileSync(join(dir, 'bin', 'git'), `#!/bin/sh\nprintf '%s\\n' "git $*" >> '${log}'\nexec ${execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim()} "$@"\n`)
  chmodSync(join(dir, 'bin', 'git'), 0o755)
  const stop = new Int32Array(new SharedArrayBuffer(4))
  const sampler = new Worker(
    `const { workerData, parentPort } = require('node:worker_threads')
     const { readdirSync, readFileSync } = require('node:fs')
     const seen = new Set()
     while (!Atomics.load(workerData, 0)) {
       for (const pid of readdirSync('/proc')) {
         if (!/^\\d+$/.test(pid)) continue
         try { seen.add(readFileSync('/proc/' + pid + '/cmdline', 'utf8').split('\\0').join(' ')) } catch {}
       }
     }
     parentPort.postMessage([...seen])`,
    { eval: true, workerData: stop },
  )
  const sampled = new Promise<string[]>((resolve) => sampler.once('message', resolve))
  try {
    const result = await work({ PATH: `${join(dir, 'bin')}:${process.env.PATH}` })
    Atomics.store(stop, 0, 1)
    const gitCalls = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : []
    const lines = [...(await sampled), ...gitCalls]
    return { result, lines, gitCalls }
  } finally {
    Atomics.store(stop, 0, 1)
    await sampler.terminate()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The files under `dir` whose bytes hold `text`. */
function filesHolding(dir: string, text: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && readFileSync(join(e.parentPath, e.name)).includes(text))
    .map((e) => join(e.parentPath, e.name))
}

t.test('credentials never reach a command line nor the mirror cache: git gets them from its environment only', async (t) => {
  const root = tempDir(t, 'casa-release-cred-argv-')
  const gamma = new TestRemote(root, 'gamma')
  const gammaMaster = gamma.commit('master', { 'package.json': packageJsonVersion('1.0.0') })
  const token = new TestRemote(root, 'token')
  token.commit('master', { 'package.json': packageJsonVersion('3.0.0') })
  // Its own secret: other runs of these tests on the machine show theirs in /proc.
  const password = `SECRET${randomBytes(6).toString('hex')}`
  const server = await serveGitHttp(join(root, 'remotes'), 'user', password)
  t.teardown(() => server.close())
  // A forge's token given as the user name, with no password.
  const bare = new TestRemote(root, 'bare-token')
  bare.commit('master', { 'package.json': packageJsonVersion('4.0.0') })
  const tokenServer = await serveGitHttp(join(root, 'remotes'), password, '')
  t.teardown(() => tokenServer.close())
  const s = setup(t, [
    { project: 'p', name: 'gamma', url: server.url('gamma', `user:${password}`) },
    // percent-encoded as URLs need it: git decodes it, so must we
    { project: 'p', name: 'token', url: server.url('token', `user:${password.replace('SECRET', 'SECRE%54')}`) },
    { project: 'p', name: 'bare-token', url: tokenServer.url('bare-token', password) },
  ])
  const cache = join(s.dir, '.release-plan-cache')
  const cli = (args: string[]) => watchCommandLines((env) => runCli(['-r', s.dir, ...args], { env: { HOME: join(s.dir, '.home'), CASA_CONFIG: join(s.dir, 'casa.config.ts'), ...env } }))

  const created = await cli(['-v', 'create_release_plan'])
  t.equal(created.result.code, 0, created.result.stderr)
  t.same(s.plan().p.gamma.error_messages, [], 'the authenticated remote was read')
  t.same(s.plan().p.token.error_messages, [], 'a percent-encoded password works')
  t.same(s.plan().p['bare-token'].error_messages, [], 'a token as user name works')
  t.match(created.lines.join('\n'), /git .*clone --mirror/, 'the git commands were seen')
  t.same(created.lines.filter((l) => l.includes(password.slice(6))), [], 'create: no command line holds the secret')
  t.notMatch(created.result.stdout + created.result.stderr, secret, 'create -v: no secret printed')
  t.same(filesHolding(cache, password.slice(6)), [], 'no file of the mirror cache holds the secret')

  gamma.commit('master', { 'README': 'changed\n' }) // so that the next run fetches
  const applied = await cli(['-v', 'apply_release_plan', 'gamma'])
  t.equal(applied.result.code, 0, applied.result.stderr)
  t.equal(gamma.refs()['refs/heads/latest_release'], gammaMaster, 'pushed with the credentials of the config')
  t.same(applied.lines.filter((l) => l.includes(password.slice(6))), [], 'apply: no command line holds the secret')
  t.notMatch(applied.result.stdout + applied.result.stderr, secret, 'apply -v: no secret printed')
  t.same(filesHolding(cache, password.slice(6)), [], 'the mirror cache still holds no secret')

  // A cache written by an earlier version kept the URL with its credentials: the next run rewrites it, fetch or not.
  const mirror = join(cache, 'p', 'token.git')
  git(['-C', mirror, 'remote', 'set-url', 'origin', server.url('token', `user:${password}`)])
  const again = await cli(['create_release_plan'])
  t.equal(again.result.code, 0, again.result.stderr)
  t.same(filesHolding(cache, password.slice(6)), [], 'an old cache holding credentials is rewritten')
  t.equal(git(['-C', mirror, 'config', 'remote.origin.url']), server.url('token'))
})

t.test("a password holding ' (a URL allows it) and percent-encoded space, $, \\, @, :, / and unicode: read, and never shown", async (t) => {
  const root = tempDir(t, 'casa-release-cred-chars-')
  const remote = new TestRemote(root, 'odd')
  remote.commit('master', { 'package.json': packageJsonVersion('1.0.0') })
  const mark = randomBytes(6).toString('hex')
  const password = `it's SECRET${mark} $HOME\\n@:/é`
  const server = await serveGitHttp(join(root, 'remotes'), 'us er', password)
  t.teardown(() => server.close())
  // What a user writes: ' is allowed as it is in a URL's userinfo; the rest must be percent-encoded.
  const userinfo = `us%20er:${encodeURIComponent(password).replace(/%27/g, "'")}`
  t.match(userinfo, /'/, "the ' is written as it is")
  const s = setup(t, [{ project: 'p', name: 'odd', url: server.url('odd', userinfo) }])
  const cli = (args: string[]) => watchCommandLines((env) => runCli(['-r', s.dir, ...args], { env: { HOME: join(s.dir, '.home'), CASA_CONFIG: join(s.dir, 'casa.config.ts'), ...env } }))
  const created = await cli(['-v', 'create_release_plan'])
  t.equal(created.result.code, 0, created.result.stderr)
  t.same(s.plan().p.odd.error_messages, [], 'the remote was read with the decoded credentials')
  t.equal(s.plan().p.odd.bug_fix.vcs_url, server.url('odd'), 'the plan holds the URL without credentials')
  t.notMatch(created.result.stdout + created.result.stderr, secret, 'create -v: no secret printed')
  t.same(created.lines.filter((l) => l.includes(mark)), [], 'no command line holds the secret')
  t.same(filesHolding(join(s.dir, '.release-plan-cache'), mark), [], 'no file of the mirror cache holds the secret')
  for (const [file, text] of s.files()) t.notMatch(text, secret, `${file}: no secret`)
  t.equal(redact(`fatal: unable to access 'http://${userinfo}@h/x.git/': refused`), `fatal: unable to access 'http://us%20er:***@h/x.git/': refused`, 'redact masks it in git\'s words')
})

t.test('a wrong password: one line naming the component and the git command, no secret; the corrected config then reads it', async (t) => {
  const root = tempDir(t, 'casa-release-cred-wrong-')
  const remote = new TestRemote(root, 'eps')
  remote.commit('master', { 'package.json': packageJsonVersion('1.0.0') })
  const server = await serveGitHttp(join(root, 'remotes'), 'user', 'SECRETRIGHT')
  t.teardown(() => server.close())
  const s = setup(t, [{ project: 'p', name: 'eps', url: server.url('eps', 'user:SECRETWRONG') }])
  const wrong = await s.cli(['create_release_plan'])
  t.match(wrong.stderr, /✖ p\/eps: cannot read http:\/\/user:\*\*\*@127\.0\.0\.1:\d+\/eps\.git: git clone failed \(exit 128\): fatal: Authentication failed/, 'says which component and which git command')
  t.notMatch(wrong.stdout + wrong.stderr, secret)
  t.match(s.plan().p.eps.error_messages, [/git clone failed/])
  writeFileSync(join(s.dir, 'casa.config.ts'), readFileSync(join(s.dir, 'casa.config.ts'), 'utf8').replace('SECRETWRONG', 'SECRETRIGHT'))
  const right = await s.cli(['update_release_plan'])
  t.equal(right.code, 0, right.stderr)
  t.same(s.plan().p.eps.error_messages, [], 'read once the config is corrected')
  t.notMatch(right.stdout + right.stderr, secret)
})

t.test('a remote asking for a password the URL does not give: no askpass program is run, the component fails in one line', async (t) => {
  const root = tempDir(t, 'casa-release-cred-askpass-')
  const remote = new TestRemote(root, 'zeta')
  remote.commit('master', { 'package.json': packageJsonVersion('1.0.0') })
  const server = await serveGitHttp(join(root, 'remotes'), 'user', 'SECRETASK')
  t.teardown(() => server.close())
  // A desktop's GIT_ASKPASS or SSH_ASKPASS opens a window and waits: it answers right here, and says it ran.
  const called = join(root, 'askpass-called')
  const askpass = join(root, 'askpass')
  writeFileSync(askpass, `#!/bin/sh\necho "$*" >> '${called}'\ncase "$1" in Username*) echo user ;; *) echo SECRETASK ;; esac\n`)
  chmodSync(askpass, 0o755)
  const s = setup(t, [{ project: 'p', name: 'zeta', url: server.url('zeta') }])
  const env = { HOME: join(s.dir, '.home'), CASA_CONFIG: join(s.dir, 'casa.config.ts') }
  for (const variable of ['GIT_ASKPASS', 'SSH_ASKPASS']) {
    const r = await runCli(['-r', s.dir, 'create_release_plan'], { env: { ...env, [variable]: askpass } })
    t.notOk(existsSync(called), `${variable}: never run`)
    t.match(r.stderr, /✖ p\/zeta: cannot read http:\/\/127\.0\.0\.1:\d+\/zeta\.git: git clone failed \(exit 128\)/, `${variable}: the component fails`)
  }
})

t.test('credentials are percent-decoded as git decodes them: a stray % kept, the escapes around it decoded', async (t) => {
  const { gitRemote } = await import('../lib/git/gitCredentials.js')
  t.same(gitRemote('https://u%40x:100%25%40b@h/x.git'), { url: 'https://h/x.git', credentials: { username: 'u@x', password: '100%@b' } })
  t.same(gitRemote('https://u:50%off%40home@h/x.git').credentials, { username: 'u', password: '50%off@home' }, 'a % not followed by two hex digits stays, as git keeps it')
  t.same(gitRemote('https://tok%zz@h/x.git').credentials, { username: 'tok%zz', password: '' })
  // Whoever calls it (a plan built in code is not read through the checks), nothing goes to git with them.
  for (const url of ['https://u:SECRET%0Ax@h/x.git', 'https://u:SECRET%0D@h/x.git', 'http://SECRET%00@h/x.git', 'https://SECRET%7F:x@h/x.git']) {
    t.throws(() => gitRemote(url), { message: /^the user name or password of "https?:\/\/\*\*\*@h\/x\.git" holds a control character/ }, url)
    t.notMatch((() => { try { gitRemote(url) } catch (error) { return (error as Error).message } return '' })(), /SECRET/, `${url}: not shown`)
  }
})

t.test('apply: a credential holding a percent-encoded control character is refused in one line, before any git command, unshown', async (t) => {
  // git's credential protocol is line based (a line break would end the password and start
  // another attribute), and no environment variable can hold a NUL: such a credential must
  // never reach git, and what is said about it must not show it.
  const root = tempDir(t, 'casa-release-cred-control-')
  const remote = new TestRemote(root, 'gamma')
  remote.commit('master', { 'package.json': packageJsonVersion('1.0.0') })
  const server = await serveGitHttp(join(root, 'remotes'), 'user', 'SECRETPW9')
  t.teardown(() => server.close())
  const s = setup(t, [{ project: 'p', name: 'gamma', url: server.url('gamma', 'user:SECRETPW9') }])
  const created = await s.cli(['create_release_plan'])
  t.equal(created.code, 0, created.stderr)
  t.same(s.plan().p.gamma.error_messages, [], 'the plan was made with the right password')
  t.ok(s.plan().p.gamma.todo.latest_release.length, 'the plan has actions to apply')
  const before = remote.refs()
  const config = readFileSync(join(s.dir, 'casa.config.ts'), 'utf8')
  for (const userinfo of ['user:SECRET%0APW9', 'user:SECRET%0DPW9', 'user:SECRET%00PW9', 'us%0Aer:SECRETPW9', 'user%1B:SECRETPW9']) {
    // The config edited after the plan was made: apply takes its URL (the plan's has no credentials).
    writeFileSync(join(s.dir, 'casa.config.ts'), config.replace('user:SECRETPW9', userinfo))
    const applied = await watchCommandLines((env) => runCli(['-r', s.dir, 'apply_release_plan', 'ignore_warning=1'], { env: { HOME: join(s.dir, '.home'), CASA_CONFIG: join(s.dir, 'casa.config.ts'), ...env } }))
    const { code, stdout, stderr } = applied.result
    t.equal(code, 1, `${userinfo}: refused: ${stderr}`)
    const said = stderr.trim().split('\n').filter((l) => !/^\d\d:\d\d:\d\d /.test(l))
    t.equal(said.length, 1, `${userinfo}: one line: ${stderr}`)
    t.match(said[0], /^error: .*p\/gamma: the user name or password of "http:\/\/\*\*\*@127\.0\.0\.1:\d+\/gamma\.git" holds a control character/, userinfo)
    t.notMatch(stdout + stderr, /SECRET|us%0Aer|user%1B/, `${userinfo}: the credential is not shown`)
    t.notMatch(stderr, /\n\s+at |internal error/, `${userinfo}: no stack trace`)
    // this run's own git calls: with tests run in parallel, /proc shows other tests' git too
    t.same(applied.gitCalls, [], `${userinfo}: no git command was run`)
    t.same(remote.refs(), before, `${userinfo}: nothing pushed`)
    t.notOk(existsSync(join(s.dir, 'release_plan_journal.jsonl')), `${userinfo}: no journal entry`)
  }
})
