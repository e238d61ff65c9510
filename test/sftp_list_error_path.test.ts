// A recursive listing of an sftp hub that fails in a subdirectory (here the connection lost
// while the server lists it) names that subdirectory by its full place on the hub, not as if
// it were at the hub's root. Real sshd, reached through a loopback proxy that cuts the
// connection on an event: once the client has sent enough requests since the listing began
// that the subdirectory's listing is under way, whatever the speed of the machine.
import t, { type Test } from 'tap'
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { join } from 'node:path'
import { openHub } from '../lib/hubs/transport.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

/**
 * A proxy to the sshd that, once armed, counts the chunks the client sends and cuts both
 * sides after `cutAfter` of them.
 */
async function cuttingProxy(t: Test, cutAfter: number) {
  const sockets = new Set<Socket>()
  let armed = false
  let sent = 0
  let cut = false
  const proxy = createServer((client) => {
    const server = connect(sshd.port, '127.0.0.1')
    sockets.add(client).add(server)
    const cutAll = () => {
      for (const socket of sockets) socket.destroy()
      cut = true
    }
    client.on('data', (chunk) => {
      server.write(chunk)
      if (armed && ++sent >= cutAfter) cutAll()
    })
    server.on('data', (chunk) => client.write(chunk))
    for (const [from, to] of [[client, server], [server, client]] as const) {
      from.on('end', () => to.end())
      from.on('error', () => to.destroy())
    }
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    proxy.close()
  })
  return { port: (proxy.address() as AddressInfo).port, arm: () => (armed = true), wasCut: () => cut }
}

t.test('a subdirectory whose listing fails is named under the listed directory', async (t) => {
  const root = join(sshd.root, 'listing')
  // the listed directory holds one subdirectory, long to list: 20,000 entries are 200 READDIR
  // round trips (sftp-server answers 100 names at a time), one request sent per round trip
  const many = join(root, 'brainvisa', 'master_s', 'many')
  mkdirSync(many, { recursive: true })
  for (let i = 0; i < 20_000; i++) closeSync(openSync(join(many, `f${i}`), 'w'))
  const proxy = await cuttingProxy(t, 40)
  const knownHosts = join(tempDir(t), 'known_hosts')
  writeFileSync(knownHosts, `[127.0.0.1]:${proxy.port} ${readFileSync(sshd.knownHosts, 'utf8').split(' ').slice(1).join(' ')}`)
  const hub = await openHub(`sftp://${sshd.user}@127.0.0.1:${proxy.port}${root}`, { identityFile: sshd.clientKey, knownHosts })
  t.teardown(() => hub.close())

  // the top directory takes 4 requests (open, 2 reads, close), then `many` is opened: the
  // 40th request sent after this point is one of its 200 reads
  proxy.arm()
  const listing = hub.list('brainvisa/master_s', { recursive: true })
  const error = await listing.then(
    () => undefined,
    (e: Error) => e,
  )
  t.ok(proxy.wasCut(), 'the proxy cut the connection')
  t.ok(error, 'the listing fails')
  t.match(error?.message, /^cannot list sftp:\/\/\S+\/listing\/brainvisa\/master_s\/many\/?: /, error?.message ?? 'no error')
})
