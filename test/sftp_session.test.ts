// lib/hubs/sftpSession, our own SFTP client, through the sftp hub against OpenSSH sshd on loopback:
// the sizes where its requests are split (32 KiB chunks, 256 KiB blocks, 16-read windows),
// trees with more directories than it keeps open at once, and errors that must leave the
// session usable. What lands on the server is read with OpenSSH's sftp and sha256sum.
import t from 'tap'
import { createHash } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, connect, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { openHub } from '../lib/hubs/transport.js'
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
  await t.rejects(hub.put(join(local, 'a'), 'plain/under'), /^sftp:\/\/.*\/errors\/plain is a file where a directory is expected$/)
  // a directory that is not empty
  await hub.put(join(local, 'a'), 'full/x')
  await t.rejects(hub.remove('full'), /^cannot remove sftp:\/\/.*\/errors\/full: .+$/)
  t.equal(await hub.readText('none'), undefined, 'an absent file reads as undefined')
  await hub.putText('still working', 'after')
  t.equal(await hub.readText('after'), 'still working', 'the session is still usable')
  t.match(sftpBatch(sshd, [`ls ${sshd.root}/errors`]), /after/)
})

t.test('through a link with latency (a proxy delaying every chunk), a large upload and a listing complete whole', async (t) => {
  // every chunk is held 5 ms each way, in order: requests and window adjustments arrive late,
  // as on a real network, so flow control has to work for the upload to finish
  const sockets = new Set<Socket>()
  const proxy = createServer((client) => {
    const server = connect(sshd.port, '127.0.0.1')
    const forward = (from: Socket, to: Socket) => {
      sockets.add(from)
      from.on('data', (chunk) => setTimeout(() => to.write(chunk), 5))
      from.on('end', () => setTimeout(() => to.end(), 5))
      from.on('error', () => to.destroy())
    }
    forward(client, server)
    forward(server, client)
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    proxy.close()
  })
  const port = (proxy.address() as AddressInfo).port
  const local = tempDir(t)
  const knownHosts = join(local, 'known_hosts')
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${readFileSync(sshd.knownHosts, 'utf8').split(' ').slice(1).join(' ')}`)
  const hub = await openHub(`sftp://${sshd.user}@127.0.0.1:${port}${sshd.root}/slow`, { identityFile: sshd.clientKey, knownHosts })
  t.teardown(() => hub.close())
  const data = pattern(6 * 1024 * 1024 + 5)
  writeFileSync(join(local, 'big'), data)
  let progress = 0
  await hub.put(join(local, 'big'), 'a/big', { onProgress: (done) => (progress = done) })
  t.equal(progress, data.length, 'progress ends at the size')
  t.equal(execFileSync('sha256sum', [join(sshd.root, 'slow', 'a', 'big')], { encoding: 'utf8' }).split(' ')[0], sha256(data), 'the server holds the same bytes')
  t.same(
    (await hub.list('', { recursive: true })).map((e) => [e.path, e.type, e.type === 'file' ? e.size : 0]),
    [
      ['a', 'dir', 0],
      ['a/big', 'file', data.length],
    ],
    'listed through the slow link',
  )
})
