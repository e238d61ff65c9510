// `-v` echoes the command run on the server for checksums (sha256sum) as a command the user
// can paste: run through bash here (with the test's key and known_hosts given to OpenSSH's
// ssh), it must print the same checksums, for a hub path with a space and a quote in it.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

t.test('the -v echo of sha256sum on the server runs as shown', async (t) => {
  const hubRoot = join(sshd.root, "hub with space and 'quote'")
  mkdirSync(hubRoot)
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: ${JSON.stringify(sftpUrl(sshd, hubRoot).replace(/ /g, '%20'))} } }, ${sshConfig(sshd)} }`)
  const file = 'brainvisa/master_ubuntu-22.04/conf/casa_distro.json'
  mkdirSync(join(repo.dir, file, '..'), { recursive: true })
  writeFileSync(join(repo.dir, file), '{"a":1}')
  const first = await runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env })
  t.equal(first.code, 0, first.stderr)

  const checked = await runCli(['-v', '-r', repo.dir, 'publish_build_workflows', 'checksum=1'], { env: repo.env })
  t.equal(checked.code, 0, checked.stderr)
  const echo = checked.stderr.split('\n').find((line) => line.startsWith('$ ssh '))
  t.ok(echo, checked.stderr)
  // the user's ssh would find its key and known_hosts in ~/.ssh; the test's are given here
  const ssh = `ssh() { command ssh -i '${sshd.clientKey}' -o UserKnownHostsFile='${sshd.knownHosts}' -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes "$@" </dev/null; }`
  const output = execFileSync('bash', ['-c', `${ssh}\n${echo!.slice(2)}`], { encoding: 'utf8', env: { ...process.env, SSH_AUTH_SOCK: '' } })
  t.equal(output, `${createHash('sha256').update('{"a":1}').digest('hex')}  ${join(hubRoot, file)}\n`)
})
