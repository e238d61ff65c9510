// Nothing of ours left behind after a SIGKILL: a later run removes `<name>.tmp-<pid>` leftovers
// whose process is gone (a half-made clone in the release-plan cache, a cache file's
// temporary), and never another run's live one nor a name not of our pattern. Real git, the
// real CLI; the "killed run" is a process that has exited, its pid gone.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { cmakeVersion, TestRemote } from './helpers/git.js'
import { tempDir } from './helpers/tmp.js'
import { hostname } from 'node:os'
import { isAlive, isDeadRun, removeDeadLeftovers, runMark } from '../lib/util/leftovers.js'

/** The pid of a process that has ended. */
function deadPid(): number {
  const pid = spawnSync('true').pid!
  if (isAlive(pid)) throw new Error(`pid ${pid} reused already`)
  return pid
}

t.test('removeDeadLeftovers: the dead ones only', async (t) => {
  const dir = tempDir(t, 'casa-leftovers-')
  const path = join(dir, 'cache.json')
  const dead = deadPid()
  for (const name of [`cache.json.tmp-${dead}`, `cache.json.tmp-${process.pid}`, `cache.json.tmp-1`, 'cache.json.tmp-x', `other.json.tmp-${dead}`]) writeFileSync(join(dir, name), '')
  t.same(removeDeadLeftovers(path), [join(dir, `cache.json.tmp-${dead}`)])
  t.ok(existsSync(join(dir, `cache.json.tmp-${process.pid}`)), 'our own kept')
  t.ok(existsSync(join(dir, 'cache.json.tmp-1')), 'a live process (init) kept')
  t.ok(existsSync(join(dir, 'cache.json.tmp-x')), 'not our pattern: kept')
  t.ok(existsSync(join(dir, `other.json.tmp-${dead}`)), 'another name: kept')
  t.same(removeDeadLeftovers(join(dir, 'missing', 'x')), [], 'no directory: nothing')
})

t.test('isDeadRun: a run of this host that is gone, or of an earlier boot; never one elsewhere', async (t) => {
  const [host, boot] = runMark().split(' ')
  t.equal(runMark(), `${hostname()} ${boot} ${process.pid}`)
  t.notOk(isDeadRun(runMark()), 'this run')
  t.notOk(isDeadRun(`${host} ${boot} 1`), 'a live process')
  t.ok(isDeadRun(`${host} ${boot} ${deadPid()}`), 'a process that has ended')
  t.ok(isDeadRun(`${host} 00000000-0000-0000-0000-000000000000 1`), 'an earlier boot, whatever runs under its pid now')
  t.notOk(isDeadRun(`not-${host} ${boot} ${deadPid()}`), 'another host: its processes cannot be asked')
  t.notOk(isDeadRun('garbage'), 'not a mark')
})

t.test('a half-made clone of a killed run is removed by the next run; a live run\'s is kept', async (t) => {
  const dir = tempDir(t, 'casa-leftover-clone-')
  const remote = new TestRemote(dir, 'a')
  remote.commit('master', { 'project_info.cmake': cmakeVersion('1.0.0') })
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), `export default { releasePlan: { components: [{ project: 'p', name: 'a', url: '${remote.url}' }] } }\n`)
  const cache = join(dir, '.release-plan-cache', 'p')
  const dead = join(cache, `a.git.tmp-${deadPid()}`)
  const live = join(cache, `a.git.tmp-${process.pid}`)
  for (const d of [dead, live]) {
    mkdirSync(d, { recursive: true })
    writeFileSync(join(d, 'HEAD'), 'half a clone\n')
  }
  const r = await runCli(['-r', dir, 'create_release_plan'], { env: { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts') } })
  t.equal(r.code, 0, r.stderr)
  t.ok(existsSync(join(cache, 'a.git', 'HEAD')), 'the mirror is whole')
  t.notOk(existsSync(dead), "the killed run's half clone is gone")
  t.ok(existsSync(live), "a live run's is kept")
})
