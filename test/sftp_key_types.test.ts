// Public-key authentication signs at once (no question whether the server takes the key
// first, lib/hubs/sshSignAtOnce.ts): each key type's signature must be what the server
// checks, RSA ones with the SHA-2 hash the algorithm names. Real sshd, keys from ssh-keygen.
import t from 'tap'
import { appendFileSync, readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { openHub } from '../lib/hubs/transport.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

for (const [type, bits] of [
  ['rsa', '2048'],
  ['ecdsa', '256'],
  ['ed25519', undefined],
] as const) {
  t.test(`an ${type} key is taken`, async (t) => {
    const key = join(tempDir(t), `id_${type}`)
    execFileSync('ssh-keygen', ['-q', '-t', type, ...(bits ? ['-b', bits] : []), '-N', '', '-f', key])
    appendFileSync(join(dirname(sshd.clientKey), 'authorized_keys'), readFileSync(`${key}.pub`))
    const hub = await openHub(sftpUrl(sshd, sshd.root), { identityFile: key, knownHosts: sshd.knownHosts })
    t.teardown(() => hub.close())
    await hub.putText(type, `key-${type}.txt`)
    t.equal(readFileSync(join(sshd.root, `key-${type}.txt`), 'utf8'), type)
  })
}
