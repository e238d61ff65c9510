// publish_casa_distro removes, after publishing, the temporary files that killed runs left in
// the hub directory. One it cannot remove (a server that refuses removals) is a warning: the
// package is published and the pointer switched, so the run succeeds, and a re-run too.
// Real sshd refusing `remove` requests.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { zipArchive } from '../lib/distro/zipWriter.js'
import { existsSync, mkdirSync, readlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'

let noRemove: Sshd
t.before(async () => {
  noRemove = await startSshd({ sftpDenied: ['remove'] })
})
t.teardown(() => noRemove?.stop())

const version = '9.9.9-leftover'

t.test('a stale temporary file that cannot be removed is a warning, not a failure of the publication', async (t) => {
  const hubRoot = join(noRemove.root, 'leftover')
  mkdirSync(hubRoot)
  const leftover = join(hubRoot, '.casa-distro-9.9.8.zip.casa-tmp-4242-abcdefgh')
  writeFileSync(leftover, 'half a zip')
  const threeHoursAgo = Date.now() / 1000 - 3 * 3600
  utimesSync(leftover, threeHoursAgo, threeHoursAgo)
  const repo = workflowRepository(t, `{ hubs: { casaDistro: { upload: '${sftpUrl(noRemove, hubRoot)}' } }, ${sshConfig(noRemove)} }`)
  writeFileSync(join(repo.dir, `casa-distro-${version}.zip`), zipArchive([{ name: `casa-distro-${version}/package.json`, data: Buffer.from(JSON.stringify({ version })) }, { name: `casa-distro-${version}/payload`, data: randomBytes(1000) }]))

  for (const run of ['first', 're-run']) {
    const r = await runCli(['-r', repo.dir, 'publish_casa_distro', `package_version=${version}`], { env: repo.env })
    t.equal(r.code, 0, `${run}: exit 0\n${r.stderr}`)
    t.notMatch(r.stderr, /^error: /m, `${run}: no error`)
    t.match(r.stderr, /\nwarning: cannot remove sftp:\/\/\S+\/leftover\/\.casa-distro-9\.9\.8\.zip\.casa-tmp-4242-abcdefgh: .*left behind\n/, `${run}: the leftover named, in one warning line`)
  }
  t.equal(readlinkSync(join(hubRoot, 'casa-distro.zip')), `casa-distro-${version}.zip`, 'the pointer is switched')
  t.ok(existsSync(leftover), 'the leftover is still there (the server refuses removals)')
})
