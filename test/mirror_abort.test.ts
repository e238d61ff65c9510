// A mirror interrupted (Ctrl-C, SIGTERM: the task's signal) starts no more uploads, and above
// all no deletion: the user stopped it, and the interrupt's cleanups take a round trip or two
// during which the run went on to delete remote files. A real file:// hub; the signal is
// aborted from the first upload's progress, so the moment is exact.
import t from 'tap'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { applyMirror, planMirror } from '../lib/hubs/mirror.js'
import { openHub } from '../lib/hubs/transport.js'
import { tempDir } from './helpers/tmp.js'

t.test('an aborted mirror starts no more uploads and deletes nothing', async (t) => {
  const local = tempDir(t)
  const remote = tempDir(t)
  for (const name of ['a.txt', 'b.txt', 'c.txt']) writeFileSync(join(local, name), name)
  mkdirSync(join(remote, 'old'))
  writeFileSync(join(remote, 'old', 'gone.txt'), 'stale')
  const hub = await openHub(`file://${remote}`)
  const plan = await planMirror(local, hub, '')
  t.equal(plan.uploads.length, 3)
  t.same(plan.deletions, ['old/gone.txt', 'old'])

  const interrupt = new AbortController()
  const applying = applyMirror(plan, hub, { concurrency: 1, signal: interrupt.signal, onProgress: () => interrupt.abort(new Error('interrupted by SIGINT')) })
  await t.rejects(applying, /interrupted by SIGINT/)
  t.ok(existsSync(join(remote, 'a.txt')), 'the upload under way finished')
  t.notOk(existsSync(join(remote, 'c.txt')), 'no upload started after the interrupt')
  t.ok(existsSync(join(remote, 'old', 'gone.txt')), 'nothing deleted')
})
