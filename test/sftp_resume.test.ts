// A big upload cut by a lost connection is continued by the next run, not restarted
// (lib/hubs/transportSftp's resumable put, used by publish_singularity for images): the cut
// is made by test/helpers/tcpProxy.ts in front of a real sshd, and the proxy's byte count
// shows how much the second run sent. The result is checked by md5, and a temporary file
// holding bytes that are not ours is uploaded again from the start.
import t from 'tap'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openHub } from '../lib/hubs/transport.js'
import { resumableName } from '../lib/hubs/hub.js'
import { startSshd } from './helpers/services.js'
import { startTcpProxy } from './helpers/tcpProxy.js'
import { tempDir } from './helpers/tmp.js'

const SIZE = 24 << 20
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex')

async function setup(t: { teardown(fn: () => unknown): void }) {
  const sshd = await startSshd()
  t.teardown(sshd.stop)
  const proxy = await startTcpProxy({ targetPort: sshd.port, lifetimeMs: 120_000 })
  t.teardown(proxy.stop)
  const local = tempDir(t, 'casa-resume-')
  const file = join(local, 'big.sif')
  const data = randomBytes(SIZE)
  writeFileSync(file, data)
  const knownHosts = join(local, 'known_hosts')
  writeFileSync(knownHosts, `[127.0.0.1]:${proxy.port} ${sshd.hostKeyPublic.split(' ').slice(0, 2).join(' ')}\n`)
  const url = `sftp://${sshd.user}@127.0.0.1:${proxy.port}${sshd.root}`
  const open = () => openHub(url, { identityFile: sshd.clientKey, knownHosts })
  const temp = resumableName(join(sshd.root, 'big.sif'), md5(data))
  return { sshd, proxy, file, data, open, temp, sum: md5(data) }
}

t.test('an upload cut half way is continued where it stopped, then checked by md5', async (t) => {
  const s = await setup(t)
  s.proxy.arm({ kind: 'close', direction: 'up', afterBytes: 10 << 20 })
  const first = await s.open()
  await t.rejects(first.put(s.file, 'big.sif', { resumeMd5: s.sum }), /cannot write sftp:\/\/.*big\.sif/, 'the cut run fails, naming the file and server')
  await first.close().catch(() => undefined)
  t.notOk(existsSync(join(s.sshd.root, 'big.sif')), 'nothing under the final name')
  const kept = statSync(s.temp).size
  t.ok(kept > 4 << 20 && kept < SIZE, `the temporary file is kept for the next run (${kept} bytes)`)

  const before = s.proxy.stats.bytesUp
  const second = await s.open()
  t.teardown(() => second.close())
  await second.put(s.file, 'big.sif', { resumeMd5: s.sum })
  const sent = s.proxy.stats.bytesUp - before
  t.equal(md5(readFileSync(join(s.sshd.root, 'big.sif'))), s.sum, 'the file on the server is whole')
  t.ok(sent < SIZE - kept + (1 << 20), `the second run sent ${sent} bytes: the rest (${SIZE - kept}) and little more, not the whole ${SIZE}`)
  t.same(readdirSync(s.sshd.root).filter((n) => n.includes('casa-tmp')), [], 'no temporary file left')
})

t.test('a temporary file with bytes that are not ours is uploaded again from the start', async (t) => {
  const s = await setup(t)
  // what a cut run would have left, but wrong from the first byte
  writeFileSync(s.temp, randomBytes(8 << 20))
  const hub = await s.open()
  t.teardown(() => hub.close())
  const before = s.proxy.stats.bytesUp
  await hub.put(s.file, 'big.sif', { resumeMd5: s.sum })
  t.equal(md5(readFileSync(join(s.sshd.root, 'big.sif'))), s.sum, 'the md5 caught it: the file on the server is right')
  t.ok(s.proxy.stats.bytesUp - before > SIZE, 'the whole file was sent again')
  t.same(readdirSync(s.sshd.root).filter((n) => n.includes('casa-tmp')), [], 'no temporary file left')
})
