// lib/sftpSession, our own SFTP client, through the sftp hub against OpenSSH sshd on loopback:
// the sizes where its requests are split (32 KiB chunks, 256 KiB blocks, 16-read windows),
// trees with more directories than it keeps open at once, and errors that must leave the
// session usable. What lands on the server is read with OpenSSH's sftp and sha256sum.
import t from 'tap'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openHub } from '../lib/transport.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpBatch, sftpGet, sftpUrl } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

// remoteCommands false: sha256 downloads each file, so it exercises the read path too
const ssh = () => ({ identityFile: sshd.clientKey, knownHosts: sshd.knownHosts, remoteCommands: false })
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')
/** Bytes that differ at every offset, so a block written at the wrong place shows. */
const pattern = (size: number) => {
  const data = Buffer.alloc(size)
  for (let i = 0; i + 4 <= size; i += 4) data.writeUInt32BE(i, i)
  return data
}

t.test('files around every split size go up and come back whole', async (t) => {
  const hub = await openHub(sftpUrl(sshd, `${sshd.root}/sizes`), ssh())
  t.teardown(() => hub.close())
  const local = tempDir(t)
  const sizes = [0, 1, 32 * 1024, 32 * 1024 + 1, 256 * 1024, 256 * 1024 + 1, 512 * 1024, 512 * 1024 + 3, 1_300_000]
  for (const size of sizes) {
    const data = pattern(size)
    writeFileSync(join(local, `f${size}`), data)
    const progress: number[] = []
    await hub.put(join(local, `f${size}`), `f${size}`, { mtime: 1_500_000_000, onProgress: (done) => progress.push(done) })
    t.equal(sftpGet(sshd, `${sshd.root}/sizes/f${size}`, local).equals(data), true, `${size} bytes: OpenSSH's sftp reads back the same bytes`)
    t.same(progress, [...progress].sort((a, b) => a - b), `${size} bytes: progress only goes up`)
    t.equal(progress.at(-1) ?? 0, size, `${size} bytes: progress ends at the size`)
  }
  const hashes = await hub.sha256(sizes.map((size) => `f${size}`))
  t.same(hashes, sizes.map((size) => sha256(pattern(size))), 'each file downloaded whole (windows of reads, short last read)')
  const listed = await hub.list('')
  t.same(
    listed.map((e) => [e.path, e.size, e.mtime]),
    [...sizes].sort((a, b) => (`f${a}` < `f${b}` ? -1 : 1)).map((size) => [`f${size}`, size, 1_500_000_000]),
    'sizes and mtimes as listed by the server',
  )
})

t.test('a tree with more directories than are kept open at once is listed whole', async (t) => {
  const root = join(sshd.root, 'wide')
  for (let d = 0; d < 150; d++) {
    mkdirSync(join(root, `d${d}`, 'sub'), { recursive: true })
    writeFileSync(join(root, `d${d}`, 'sub', 'file.txt'), `${d}`)
  }
  mkdirSync(join(root, 'empty'))
  const hub = await openHub(sftpUrl(sshd, root), ssh())
  t.teardown(() => hub.close())
  const listed = await hub.list('', { recursive: true })
  const found = execFileSync('find', ['.', '-mindepth', '1'], { cwd: root, encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((p) => p.slice(2))
    .sort()
  t.same(
    listed.map((e) => e.path),
    found,
    'the same paths as find, sorted',
  )
  t.equal(listed.filter((e) => e.type === 'dir').length, 301)
})

t.test('refused requests: one message naming the path, and the session goes on', async (t) => {
  const hub = await openHub(sftpUrl(sshd, `${sshd.root}/errors`), ssh())
  t.teardown(() => hub.close())
  const local = tempDir(t)
  writeFileSync(join(local, 'a'), 'a')
  await hub.put(join(local, 'a'), 'plain')
  // a file where a directory should be
  await t.rejects(hub.put(join(local, 'a'), 'plain/under'), /^cannot (write|create directory) sftp:\/\/.*\/errors\/plain(\/under)?: .+$/)
  // a directory that is not empty
  await hub.put(join(local, 'a'), 'full/x')
  await t.rejects(hub.remove('full'), /^cannot remove sftp:\/\/.*\/errors\/full: .+$/)
  t.equal(await hub.readText('none'), undefined, 'an absent file reads as undefined')
  await hub.putText('still working', 'after')
  t.equal(await hub.readText('after'), 'still working', 'the session is still usable')
  t.match(sftpBatch(sshd, [`ls ${sshd.root}/errors`]), /after/)
})
