// sha256 of a remote path that is a directory (publish_casa_distro finding a directory where
// its zip goes, a mirror comparing by checksum): sha256sum on the server prints no hash for
// it, the download that follows gets OpenSSH's bare "Failure". The message must say what is
// wrong there. Real sshd, with and without remote commands.
import t from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openHub } from '../lib/hubs/transport.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl } from './helpers/sftp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

for (const remoteCommands of [true, false]) {
  t.test(`a directory where a file is expected, remoteCommands ${remoteCommands}: said so`, async (t) => {
    const root = join(sshd.root, `sha-${remoteCommands}`)
    mkdirSync(join(root, 'casa-distro-1.0.0.zip'), { recursive: true })
    writeFileSync(join(root, 'file.txt'), 'x')
    const hub = await openHub(sftpUrl(sshd, root), { identityFile: sshd.clientKey, knownHosts: sshd.knownHosts, remoteCommands })
    t.teardown(() => hub.close())
    await t.rejects(hub.sha256(['file.txt', 'casa-distro-1.0.0.zip']), {
      message: `${sftpUrl(sshd, join(root, 'casa-distro-1.0.0.zip'))} is a directory where a file is expected: remove it first`,
    })
  })
}
