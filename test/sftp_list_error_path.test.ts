// A recursive listing of an sftp hub that fails in a subdirectory (here the connection lost
// while the server lists it) names that subdirectory by its full place on the hub, not as if
// it were at the hub's root. Real sshd, whose serving processes the test kills by pid.
import t from 'tap'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'
import { openHub } from '../lib/hubs/transport.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl } from './helpers/sftp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

t.test('a subdirectory whose listing fails is named under the listed directory', async (t) => {
  const root = join(sshd.root, 'listing')
  // the listed directory holds one subdirectory, long to list (thousands of READDIR round trips)
  const many = join(root, 'brainvisa', 'master_s', 'many')
  mkdirSync(many, { recursive: true })
  for (let i = 0; i < 60_000; i++) closeSync(openSync(join(many, `f${i}`), 'w'))
  const hub = await openHub(sftpUrl(sshd, root), { identityFile: sshd.clientKey, knownHosts: sshd.knownHosts })
  t.teardown(() => hub.close())

  const listing = hub.list('brainvisa/master_s', { recursive: true })
  // the top listed (a few ms), `many` under way: its 60,000 entries take over a second to list,
  // so this wait leaves room for a loaded machine on both sides
  await new Promise((resolve) => setTimeout(resolve, 400))
  sshd.dropConnections()
  const error = await listing.then(
    () => undefined,
    (e: Error) => e,
  )
  t.ok(error, 'the listing fails')
  t.match(error?.message, /^cannot list sftp:\/\/\S+\/listing\/brainvisa\/master_s\/many\/?: /, error?.message ?? 'no error')
})
