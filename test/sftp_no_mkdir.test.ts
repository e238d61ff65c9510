// A server that refuses to create directories (internal-sftp -P mkdir: OpenSSH itself, as a
// read-only or quota-bound account would answer). The error must name the directory that
// could not be made, not the file the run was about to write in it, and leave nothing behind.
import t from 'tap'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd({ sftpDenied: ['mkdir'] })
})
t.teardown(() => sshd?.stop())

t.test('publish_build_workflows into a directory the server will not create: one line naming it', async (t) => {
  const hubRoot = join(sshd.root, 'hub')
  mkdirSync(hubRoot)
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, hubRoot)}' } }, ${sshConfig(sshd)} }`)
  mkdirSync(join(repo.dir, 'brainvisa/master_ubuntu-22.04/conf'), { recursive: true })
  writeFileSync(join(repo.dir, 'brainvisa/master_ubuntu-22.04/conf/casa_distro.json'), '{}')

  const r = await runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env })
  t.equal(r.code, 1, r.stderr)
  const errors = r.stderr.split('\n').filter((line) => line.startsWith('error:'))
  t.same(errors.length, 1, r.stderr)
  // the first directory missing on the way to the lock, not the lock
  t.match(errors[0], new RegExp(`^error: cannot create directory ${sftpUrl(sshd, join(hubRoot, 'brainvisa')).replace(/[.]/g, '\\.')}: `))
  t.notMatch(r.stderr, /casa-mirror\.lock/)
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace')
  t.same(readdirSync(hubRoot), [], 'nothing left on the hub')
  t.notOk(existsSync(join(hubRoot, 'brainvisa')))
})
