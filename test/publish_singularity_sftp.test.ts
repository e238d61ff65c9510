// publish_singularity to a server hub over sftp:// (OpenSSH sshd on loopback): the SIF, its
// .dockerid and .md5 land on the server (read back with OpenSSH sftp), and a re-run skips the
// image because the download URL (a static HTTP server over the same directory) serves the md5.
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { ensureBusyboxImage, startHttpServer, startSshd } from './helpers/services.js'
import { sftpGet, sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

const image = 'casa-test-sifsftp/small:1.0'
const base = ensureBusyboxImage()
execFileSync('docker', ['tag', base, image])
t.teardown(() => {
  spawnSync('docker', ['image', 'rm', image])
})

t.test('publish_singularity uploads to an sftp:// hub, then skips what the download URL already has', async (t) => {
  const sshd = await startSshd()
  t.teardown(sshd.stop)
  const hubDir = join(sshd.root, 'www', 'casa-distro')
  mkdirSync(hubDir, { recursive: true })
  const http = await startHttpServer(hubDir)
  t.teardown(http.stop)
  const repo = workflowRepository(t, `{ hubs: { singularity: { upload: '${sftpUrl(sshd, hubDir)}', download: '${http.url}' } }, ${sshConfig(sshd)} }`)

  const created = await runCli(['-r', repo.dir, 'create_singularity', 'casa-test-sifsftp/*'], { env: repo.env })
  t.equal(created.code, 0, created.stderr.slice(-600))
  const sif = join(repo.dir, 'casa-test-sifsftp_small_1.0.sif')

  const published = await runCli(['-r', repo.dir, 'publish_singularity', 'casa-test-sifsftp/*'], { env: repo.env })
  t.equal(published.code, 0, published.stderr.slice(-600))
  t.match(published.stderr, /casa-test-sifsftp\/small:1\.0: uploaded to sftp:\/\//)
  const local = tempDir(t)
  const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex')
  const downloaded = sftpGet(sshd, `${hubDir}/casa-test-sifsftp_small_1.0.sif`, local)
  t.equal(md5(downloaded), readFileSync(`${sif}.md5`, 'utf8').trim(), 'OpenSSH sftp downloads the same image')
  t.equal(sftpGet(sshd, `${hubDir}/casa-test-sifsftp_small_1.0.sif.md5`, local).toString(), readFileSync(`${sif}.md5`, 'utf8'))
  t.equal(sftpGet(sshd, `${hubDir}/casa-test-sifsftp_small_1.0.sif.dockerid`, local).toString(), readFileSync(`${sif}.dockerid`, 'utf8'))
  t.same(readdirSync(hubDir).filter((n) => n.includes('casa-tmp')), [], 'no temporary file left')

  const again = await runCli(['-r', repo.dir, 'publish_singularity', 'casa-test-sifsftp/*'], { env: repo.env })
  t.equal(again.code, 0, again.stderr.slice(-600))
  t.match(again.stderr, /casa-test-sifsftp\/small:1\.0: up to date on sftp:\/\//)
})

t.test('publish_singularity to a file:// hub with a file:// download URL', async (t) => {
  const hubDir = join(tempDir(t), 'www')
  const repo = workflowRepository(t, `{ hubs: { singularity: { upload: 'file://${hubDir}', download: 'file://${hubDir}' } } }`)
  const created = await runCli(['-r', repo.dir, 'create_singularity', 'casa-test-sifsftp/*'], { env: repo.env })
  t.equal(created.code, 0, created.stderr.slice(-600))
  const sif = join(repo.dir, 'casa-test-sifsftp_small_1.0.sif')
  const published = await runCli(['-r', repo.dir, 'publish_singularity', 'casa-test-sifsftp/*'], { env: repo.env })
  t.equal(published.code, 0, published.stderr.slice(-600))
  t.same(readFileSync(join(hubDir, 'casa-test-sifsftp_small_1.0.sif')), readFileSync(sif))
  const again = await runCli(['-r', repo.dir, 'publish_singularity', 'casa-test-sifsftp/*'], { env: repo.env })
  t.match(again.stderr, /up to date on file:\/\//)
})
