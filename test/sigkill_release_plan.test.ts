// create_release_plan killed with SIGKILL while it clones a component into the release-plan
// cache, then run again: the re-run succeeds with a whole mirror, and the killed run's
// half-made clone is gone, whether the re-run clones or finds the mirror already made (by a
// run that went on meanwhile). A live run's half clone is never removed. Real git over smart
// HTTP (git-http-backend) behind the test proxy, which holds the clone's download at a byte
// count: that is the event the test kills at.
import t, { type Test } from 'tap'
import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { cmakeVersion, TestRemote } from './helpers/git.js'
import { serveGitHttp } from './helpers/gitHttp.js'
import { killTree, startCli, waitFor } from './helpers/killPoint.js'
import { startTcpProxy } from './helpers/tcpProxy.js'
import { tempDir } from './helpers/tmp.js'

async function setup(t: Test) {
  const dir = tempDir(t, 'casa-kill-plan-')
  const remote = new TestRemote(dir, 'a')
  // a pack of a few hundred KB (random bytes do not compress): the download can be held half way
  remote.commit('master', { 'project_info.cmake': cmakeVersion('1.0.0'), 'blob.bin': randomBytes(600_000).toString('base64') })
  const server = await serveGitHttp(join(dir, 'remotes'), 'user', 'pw')
  t.teardown(() => server.close())
  const proxy = await startTcpProxy({ targetPort: server.port, lifetimeMs: 300_000 })
  t.teardown(proxy.stop)
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), `export default { releasePlan: { components: [{ project: 'p', name: 'a', url: 'http://user:pw@127.0.0.1:${proxy.port}/a.git' }] } }\n`)
  const cache = join(dir, '.release-plan-cache', 'p')
  const env = { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts') }
  const halfClones = () => (existsSync(cache) ? readdirSync(cache).filter((n) => n.startsWith('a.git.tmp-')) : [])
  const mirrorRefs = () => execFileSync('git', ['for-each-ref', '--format=%(refname) %(objectname)'], { cwd: join(cache, 'a.git'), encoding: 'utf8' })
  const remoteRefs = () => execFileSync('git', ['for-each-ref', '--format=%(refname) %(objectname)'], { cwd: remote.bare, encoding: 'utf8' })
  return { dir, proxy, cache, env, halfClones, mirrorRefs, remoteRefs }
}

/** Start the plan with the clone's download held after `afterBytes`; resolves once it holds, with the half clone there. */
async function heldClone(s: Awaited<ReturnType<typeof setup>>, afterBytes: number) {
  // held in the server-to-client direction: the refs, then the pack; on every connection to come
  s.proxy.arm({ kind: 'hold', direction: 'down', afterBytes, connection: 1 })
  const run = startCli(['-r', s.dir, 'create_release_plan'], s.env)
  await waitFor(run, 'the clone was held', async () => !s.proxy.armed && s.halfClones().length > 0)
  return run
}

for (const [point, afterBytes] of [
  ['at the start of the download', 0],
  ['half way through the pack', 200_000],
] as const) {
  t.test(`killed ${point} of the clone: the re-run clones again, the half clone goes`, async (t) => {
    const s = await setup(t)
    const run = await heldClone(s, afterBytes)
    await killTree(run)
    t.equal(s.halfClones().length, 1, 'the killed run left its half clone')
    const again = await runCli(['-r', s.dir, 'create_release_plan'], { env: s.env })
    t.equal(again.code, 0, again.stderr)
    t.equal(s.mirrorRefs(), s.remoteRefs(), 'the mirror is whole: every ref as the remote has it')
    execFileSync('git', ['fsck', '--no-progress'], { cwd: join(s.cache, 'a.git') })
    t.same(s.halfClones(), [], 'no half clone left')
  })
}

t.test('a run alive keeps its half clone; killed, it is removed even once the mirror exists', async (t) => {
  const s = await setup(t)
  const first = await heldClone(s, 200_000)
  const held = s.halfClones()
  // the fault fired once: the second run's connections pass
  const second = await runCli(['-r', s.dir, 'create_release_plan'], { env: s.env })
  t.equal(second.code, 0, second.stderr)
  t.ok(held.every((n) => existsSync(join(s.cache, n))), "the live run's half clone is kept")
  await killTree(first)
  // the mirror is there now: the re-run fetches into it, and must still remove the killed run's half clone
  const again = await runCli(['-r', s.dir, 'create_release_plan'], { env: s.env })
  t.equal(again.code, 0, again.stderr)
  t.equal(s.mirrorRefs(), s.remoteRefs(), 'the mirror is whole')
  t.same(s.halfClones(), [], 'no half clone left')
})
