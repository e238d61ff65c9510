// One SSH connection per host for every git command of create_release_plan (lib/git/
// sshSharing.ts), with git over ssh:// served by a real OpenSSH sshd. The remotes are reached
// through test/helpers/tcpProxy.ts, which counts the TCP connections made to the server: one
// for the whole run, closed at its end; the host key is still checked; a user's own
// ControlMaster setting wins.
import t from 'tap'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { runCli } from './helpers/cli.js'
import { cmakeVersion, TestRemote } from './helpers/git.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { startTcpProxy, type TcpProxy } from './helpers/tcpProxy.js'
import { tempDir } from './helpers/tmp.js'
import { sshDestination } from '../lib/git/sshSharing.js'

const names = ['alpha', 'beta', 'gamma', 'delta']

async function setup(t: { teardown(fn: () => unknown): void }, options: { copies?: number; jobs?: number } = {}) {
  const sshd = await startSshd()
  t.teardown(sshd.stop)
  const proxy = await startTcpProxy({ targetPort: sshd.port, delayMs: 2, lifetimeMs: 120_000 })
  t.teardown(proxy.stop)
  for (const [i, name] of names.entries()) new TestRemote(sshd.root, name).commit('master', { 'project_info.cmake': cmakeVersion(`1.${i}.0`) })
  const dir = tempDir(t, 'casa-ssh-sharing-')
  const home = join(dir, '.home')
  const tmp = join(dir, '.tmp')
  mkdirSync(home)
  mkdirSync(tmp)
  const url = (name: string) => `ssh://${sshd.user}@127.0.0.1:${proxy.port}${join(sshd.root, 'remotes', `${name}.git`)}`
  // `copies` components per remote (each its own mirror): more git commands at once than one connection has sessions
  const copies = options.copies ?? 1
  const components = names.flatMap((name) => Array.from({ length: copies }, (_, i) => ({ project: 'p', name: copies > 1 ? `${name}-${i}` : name, url: url(name) })))
  writeFileSync(join(dir, 'casa.config.ts'), `export default { releasePlan: { components: ${JSON.stringify(components)}, jobs: ${options.jobs ?? 2} } }\n`)
  const knownHosts = join(dir, 'known_hosts')
  writeFileSync(knownHosts, `[127.0.0.1]:${proxy.port} ${sshd.hostKeyPublic.split(' ').slice(0, 2).join(' ')}\n`)
  // the key and known_hosts as a user would have them in ~/.ssh/config (ssh reads that from
  // the passwd home, not $HOME, so here through GIT_SSH_COMMAND)
  const sshCommand = `ssh -i ${sshd.clientKey} -o IdentitiesOnly=yes -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes`
  const env = { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts'), SSH_AUTH_SOCK: '', TMPDIR: tmp, GIT_SSH_COMMAND: sshCommand }
  const plan = () => parse(readFileSync(join(dir, 'release_plan.yaml'), 'utf8'))
  return { sshd, proxy, dir, tmp, env, knownHosts, plan, cli: (extraEnv: Record<string, string> = {}) => runCli(['-r', dir, 'create_release_plan'], { env: { ...env, ...extraEnv } }) }
}


t.test('ssh destinations of git URLs', async (t) => {
  t.same(sshDestination('ssh://git@example.org:2222/a/b.git'), { user: 'git', host: 'example.org', port: 2222 })
  t.same(sshDestination('ssh://example.org/a.git'), { user: undefined, host: 'example.org', port: undefined })
  t.same(sshDestination('git@github.com:brainvisa/soma-base.git'), { user: 'git', host: 'github.com' })
  t.same(sshDestination('ssh://[::1]:22/x'), { user: undefined, host: '::1', port: 22 })
  for (const other of ['https://github.com/a/b.git', 'file:///srv/a.git', '/srv/a.git', './a.git']) t.equal(sshDestination(other), undefined, other)
})

t.test('every git command of a run goes through one SSH connection, closed at the end', async (t) => {
  const s = await setup(t)
  const cold = await s.cli()
  t.equal(cold.code, 0, cold.stderr)
  const plan = s.plan()
  for (const [i, name] of names.entries()) t.equal(plan.p[name].bug_fix.version, `1.${i}.0`, `${name} read over ssh`)
  t.equal(s.proxy.stats.connections, 1, `one connection for ${names.length} clones (jobs: 2)`)
  await s.proxy.idle()
  t.pass('the shared connection is closed once the run ends')
  t.same(readdirSync(s.tmp), [], 'the private socket directory is removed')

  // unchanged: a fetch per component, still one connection
  const warm = await s.cli()
  t.equal(warm.code, 0, warm.stderr)
  t.equal(s.proxy.stats.connections, 2, 'one more connection for the whole second run')
  await s.proxy.idle()
})

t.test("more jobs than sshd's sessions per connection: still one connection", async (t) => {
  // sshd refuses an eleventh session on a connection (MaxSessions 10), and ssh then opens a
  // connection of its own: 16 jobs would make several
  const s = await setup(t, { copies: 3, jobs: 16 })
  const run = await s.cli()
  t.equal(run.code, 0, run.stderr)
  const plan = s.plan()
  for (const [i, name] of names.entries()) for (let copy = 0; copy < 3; copy++) t.equal(plan.p[`${name}-${copy}`].bug_fix.version, `1.${i}.0`, `${name}-${copy} read`)
  t.equal(s.proxy.stats.connections, 1, 'one connection for 12 clones, 16 jobs')
  await s.proxy.idle()
})

t.test('host keys are still checked', async (t) => {
  const s = await setup(t)
  // another server's key under the proxy's name
  const other = await startSshd()
  t.teardown(other.stop)
  writeFileSync(s.knownHosts, `[127.0.0.1]:${s.proxy.port} ${other.hostKeyPublic.split(' ').slice(0, 2).join(' ')}\n`)
  await s.cli()
  const plan = s.plan()
  // git keeps the last line of ssh's refusal ("Could not read from remote repository")
  for (const name of names) {
    t.match(plan.p[name].error_messages.join(' '), /cannot read ssh:.*Could not read from remote repository/, `${name}: refused`)
    t.notOk(plan.p[name].bug_fix?.version, `${name}: nothing read from the server that is not the one known`)
  }
  await s.proxy.idle()
})

t.test("the user's own ControlMaster setting wins", async (t) => {
  const s = await setup(t)
  const run = await s.cli({ GIT_SSH_COMMAND: `${s.env.GIT_SSH_COMMAND} -o ControlMaster=no` })
  t.equal(run.code, 0, run.stderr)
  t.ok(s.proxy.stats.connections >= names.length, `a connection per git command (${s.proxy.stats.connections})`)
  await s.proxy.idle()
})
