// applyMirror tells its caller when it sends its last change (the last deletion), so that the
// lock's check that it is still ours shares that round trip (Unlock.checkAhead): once, with
// every other deletion done, and never when nothing is deleted. Then the release removes the
// lock only where that check found it ours. A real file:// hub.
import t from 'tap'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { applyMirror, planMirror } from '../lib/hubs/mirror.js'
import { lockMirror, MIRROR_LOCK } from '../lib/hubs/mirrorLock.js'
import { openHub } from '../lib/hubs/transport.js'
import { tempDir } from './helpers/tmp.js'

t.test('the last change is announced once, as the last deletion goes', async (t) => {
  const local = tempDir(t)
  const remote = tempDir(t)
  writeFileSync(join(local, 'a.txt'), 'a')
  mkdirSync(join(remote, 'old', 'deeper'), { recursive: true })
  for (const name of ['one.txt', 'two.txt', 'deeper/three.txt']) writeFileSync(join(remote, 'old', name), 'stale')
  const hub = await openHub(`file://${remote}`)
  const plan = await planMirror(local, hub, '')
  t.same(plan.deletions, ['old/deeper/three.txt', 'old/one.txt', 'old/two.txt', 'old/deeper', 'old'])

  const seen: string[][] = []
  const state = () => ['old/one.txt', 'old/two.txt', 'old/deeper/three.txt', 'old/deeper', 'old'].filter((p) => existsSync(join(remote, p)))
  await applyMirror(plan, hub, { concurrency: 1, onLastChange: () => seen.push(state()) })
  t.same(seen, [['old']], 'once, everything else deleted, the last directory not yet')
  t.notOk(existsSync(join(remote, 'old')))

  const again = await planMirror(local, hub, '')
  let calls = 0
  await applyMirror(again, hub, { onLastChange: () => calls++ })
  t.equal(calls, 0, 'nothing deleted: never')
})

t.test('a lock checked ahead is released when it was ours then, kept when it was not', async (t) => {
  const remote = tempDir(t)
  const hub = await openHub(`file://${remote}`)
  const unlock = await lockMirror(hub, 'w', { task: 'test' })
  unlock.checkAhead()
  await unlock()
  t.notOk(existsSync(join(remote, 'w', MIRROR_LOCK)), 'ours at the check: removed')

  const broken = await lockMirror(hub, 'w', { task: 'test' })
  // another user's break_lock, then their run's lock, before the check
  writeFileSync(join(remote, 'w', MIRROR_LOCK), '{"task":"theirs"}\n')
  broken.checkAhead()
  await broken()
  t.equal(readFileSync(join(remote, 'w', MIRROR_LOCK), 'utf8'), '{"task":"theirs"}\n', 'theirs at the check: kept')
})
