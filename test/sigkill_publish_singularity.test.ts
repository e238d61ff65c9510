// publish_singularity to an sftp hub killed with SIGKILL half way through the upload of a SIF
// file, then run again: the re-run continues the upload the killed run left on the server (a
// resumable temporary named by the file's md5), the file on the hub is whole, and no
// temporary file is left. A temporary that can no longer be continued (the image was
// converted again since: another md5) is removed once it is old enough to be no live run's
// (the pid in a hub's temporary name may be another machine's), and kept while it is recent.
// Real sshd behind the test proxy, which holds the upload at a byte count: the kill's event.
import t from 'tap'
import { createHash } from 'node:crypto'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { killTree, startCli, waitFor } from './helpers/killPoint.js'
import { ensureBusyboxImage, startSshd, type Sshd } from './helpers/services.js'
import { proxiedSshd, workflowRepository } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

const image = `casa-test-kill-pub/sif:r${process.pid}`
const sifName = `casa-test-kill-pub_sif_r${process.pid}.sif`
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex')

/** (Re)build the test image with `mb` MiB of random data: each build another md5. */
function buildImage(mb: number): void {
  const context = tempDir(t, 'casa-kill-pub-ctx-')
  writeFileSync(join(context, 'Dockerfile'), `FROM ${ensureBusyboxImage()}\nCOPY blob /blob\n`)
  writeFileSync(join(context, 'blob'), execFileSync('head', ['-c', String(mb << 20), '/dev/urandom'], { maxBuffer: (mb + 1) << 20 }))
  execFileSync('docker', ['build', '--network=host', '-q', '-t', image, context], { stdio: 'ignore' })
}
t.teardown(() => {
  spawnSync('docker', ['image', 'rm', image])
})

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

const temporaries = (dir: string) => readdirSync(dir).filter((n) => n.includes('.casa-tmp-'))

t.test('killed half way through the upload of a SIF file: the re-run continues it, the file is whole', async (t) => {
  buildImage(4)
  const hubDir = join(sshd.root, `kill-${process.pid}-a`)
  mkdirSync(hubDir, { recursive: true })
  const via = await proxiedSshd(t, sshd)
  const repo = workflowRepository(t, `{ hubs: { singularity: { upload: '${via.url(hubDir)}', download: 'file://${hubDir}' } }, ${via.sshConfig} }`)
  const created = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(created.code, 0, created.stderr)
  const sif = join(repo.dir, sifName)
  const sum = readFileSync(`${sif}.md5`, 'utf8').trim()

  via.proxy.arm({ kind: 'hold', direction: 'up', afterBytes: 2 << 20 })
  const run = startCli(['-r', repo.dir, 'publish_singularity', image], repo.env)
  const [left] = await waitFor(run, '2 MiB of the upload went through', () => !via.proxy.armed && temporaries(hubDir).length > 0 && temporaries(hubDir))
  await killTree(run)
  const kept = statSync(join(hubDir, left!)).size
  t.ok(kept < statSync(sif).size, `the killed run left its upload on the server (${left}: ${kept} bytes)`)

  const again = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: repo.env })
  t.equal(again.code, 0, again.stderr)
  if (kept > 0) t.match(again.stderr, /continuing the upload cut at \d+ of \d+ bytes/, 'the upload is continued, not restarted')
  t.equal(md5(readFileSync(join(hubDir, sifName))), sum, 'the file on the hub is whole')
  t.equal(readFileSync(join(hubDir, `${sifName}.md5`), 'utf8').trim(), sum, 'and its .md5 says so')
  t.same(temporaries(hubDir), [], 'no temporary file left on the hub')
})

t.test('an upload killed before the image was converted again: its temporary goes once old, a recent one stays', async (t) => {
  buildImage(4)
  const hubDir = join(sshd.root, `kill-${process.pid}-b`)
  mkdirSync(hubDir, { recursive: true })
  const via = await proxiedSshd(t, sshd)
  const repo = workflowRepository(t, `{ hubs: { singularity: { upload: '${via.url(hubDir)}', download: 'file://${hubDir}' } }, ${via.sshConfig} }`)
  const created = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(created.code, 0, created.stderr)

  via.proxy.arm({ kind: 'hold', direction: 'up', afterBytes: 2 << 20 })
  const run = startCli(['-r', repo.dir, 'publish_singularity', image], repo.env)
  const [left] = await waitFor(run, '2 MiB of the upload went through', () => !via.proxy.armed && temporaries(hubDir).length > 0 && temporaries(hubDir))
  await killTree(run)

  // converted again: the upload left on the hub is of content that will never be sent again
  buildImage(3)
  const recreated = await runCli(['-r', repo.dir, 'create_singularity', image, 'force=1'], { env: repo.env })
  t.equal(recreated.code, 0, recreated.stderr)
  const sif = join(repo.dir, sifName)
  const sum = readFileSync(`${sif}.md5`, 'utf8').trim()

  // recent: it may be a live run's upload (another machine's, for all the hub can tell)
  const recent = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: repo.env })
  t.equal(recent.code, 0, recent.stderr)
  t.equal(md5(readFileSync(join(hubDir, sifName))), sum, 'the new file is on the hub, whole')
  t.same(temporaries(hubDir), [left], 'a recent temporary is kept')

  // two hours without a write: no live upload's
  const old = new Date(Date.now() - 2 * 3600_000)
  utimesSync(join(hubDir, left!), old, old)
  const later = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: repo.env })
  t.equal(later.code, 0, later.stderr)
  t.same(temporaries(hubDir), [], 'the old temporary is removed')
  t.equal(md5(readFileSync(join(hubDir, sifName))), sum, 'the file on the hub is whole')
})
