// Two runs into a fresh hub path: one that fails removes the empty directories it made for
// its lock, and one of them may be a directory the other run found there a moment ago and is
// about to make its own directory in. The sftp hub remembers the directories it saw exist (a
// round trip saved per upload): a directory removed behind its back must be made again, not
// end the run with "cannot create directory". The other run's cleanup is played here by
// removing the directory on the server side, at the moment it would happen. Real sshd.
import t from 'tap'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openHub } from '../lib/hubs/transport.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

t.test('a directory removed by another run after this one saw it is made again', async (t) => {
  const root = join(sshd.root, 'vanish')
  mkdirSync(root)
  const local = tempDir(t)
  writeFileSync(join(local, 'f.txt'), 'content')
  const hub = await openHub(sftpUrl(sshd, root), { identityFile: sshd.clientKey, knownHosts: sshd.knownHosts })
  t.teardown(() => hub.close())

  await hub.mkdirp('d/first') // this run makes d, or finds it: either way it now takes d as there
  rmSync(join(root, 'd'), { recursive: true }) // the other run's cleanup
  await hub.put(join(local, 'f.txt'), 'd/second/f.txt')
  t.equal(readFileSync(join(root, 'd/second/f.txt'), 'utf8'), 'content', 'an upload makes the directories again')

  rmSync(join(root, 'd'), { recursive: true })
  t.equal(await hub.createNew('lock', 'd/third/.casa-mirror.lock'), true, 'a lock makes them again')
  t.equal(readFileSync(join(root, 'd/third/.casa-mirror.lock'), 'utf8'), 'lock')

  rmSync(join(root, 'd'), { recursive: true })
  await hub.mkdirp('d/fourth/deeper')
  t.ok((await hub.list('d/fourth')).some((e) => e.path === 'deeper' && e.type === 'dir'), 'mkdirp makes them again')
})
