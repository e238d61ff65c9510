// The test harness itself: every service starts for real and answers.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ensureBusyboxImage, startHttpServer, startRegistry, startSshd } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

t.test('docker engine builds and runs the busybox base', async (t) => {
  const tag = ensureBusyboxImage()
  const out = execFileSync('docker', ['run', '--rm', tag, 'echo', 'hello'], { encoding: 'utf8' })
  t.equal(out.trim(), 'hello')
})

t.test('registry with htpasswd refuses anonymous pushes and accepts credentials', async (t) => {
  const registry = await startRegistry({ auth: { user: 'casa', password: 's3cret' } })
  t.teardown(registry.stop)
  const anonymous = await fetch(`http://${registry.host}/v2/`)
  t.equal(anonymous.status, 401)
  const authed = await fetch(`http://${registry.host}/v2/`, { headers: { authorization: `Basic ${Buffer.from('casa:s3cret').toString('base64')}` } })
  t.equal(authed.status, 200)
})

t.test('sshd accepts the client key over sftp and checks the host key', async (t) => {
  const sshd = await startSshd()
  t.teardown(sshd.stop)
  writeFileSync(join(sshd.root, 'hello.txt'), 'hi')
  const out = execFileSync(
    'sftp',
    ['-b', '-', '-P', String(sshd.port), '-i', sshd.clientKey, '-o', `UserKnownHostsFile=${sshd.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `${sshd.user}@127.0.0.1`],
    { input: `ls ${sshd.root}\n`, encoding: 'utf8' },
  )
  t.match(out, /hello\.txt/)
})

t.test('static http server serves a directory', async (t) => {
  const dir = tempDir(t)
  mkdirSync(join(dir, 'sub'))
  writeFileSync(join(dir, 'sub', 'a.md5'), 'abc')
  const http = await startHttpServer(dir)
  t.teardown(http.stop)
  t.equal(await (await fetch(`${http.url}/sub/a.md5`)).text(), 'abc')
  t.equal((await fetch(`${http.url}/missing`)).status, 404)
})
