// A recursive listing of an sftp hub given the directories it will probably find (a mirror
// passes those of its local tree, so that a far-away server reads them all at once) gives
// what it gives without the hint: a hinted path that is a link to a directory, a file, or
// absent is not listed below, and a directory the hint missed is listed all the same. Real sshd.
import t from 'tap'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openHub } from '../lib/hubs/transport.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl } from './helpers/sftp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

t.test('a listing with a hint of directories is the listing without it', async (t) => {
  const remote = join(sshd.root, 'ahead')
  mkdirSync(join(remote, 'a', 'b', 'c'), { recursive: true })
  writeFileSync(join(remote, 'a', 'b', 'c', 'f.txt'), 'deep')
  writeFileSync(join(remote, 'a', 'x.txt'), 'x')
  symlinkSync('a', join(remote, 'link'))
  writeFileSync(join(remote, 'file.txt'), 'a file')
  mkdirSync(join(remote, 'only-here', 'below'), { recursive: true })
  writeFileSync(join(remote, 'only-here', 'below', 's.txt'), 'not hinted')

  const hub = await openHub(sftpUrl(sshd, remote), { identityFile: sshd.clientKey, knownHosts: sshd.knownHosts })
  t.teardown(() => hub.close())
  const plain = await hub.list('', { recursive: true })
  const hinted = await hub.list('', { recursive: true, likelyDirectories: Promise.resolve(['a', 'a/b', 'a/b/c', 'link', 'file.txt', 'missing', 'missing/deeper', 'a/x.txt']) })
  t.same(hinted, plain)
  t.same(
    hinted.map((e) => `${e.path} ${e.type}`),
    ['a dir', 'a/b dir', 'a/b/c dir', 'a/b/c/f.txt file', 'a/x.txt file', 'file.txt file', 'link symlink', 'only-here dir', 'only-here/below dir', 'only-here/below/s.txt file'],
    'nothing below the link nor the file, the directories the hint missed listed too',
  )
  t.same(await hub.list('', { recursive: true, likelyDirectories: Promise.reject(new Error('the local walk failed')) }), plain, 'a failed hint is no hint')
})
