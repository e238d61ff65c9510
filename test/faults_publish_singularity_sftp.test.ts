// publish_singularity to an sftp hub over a connection that drops: test/helpers/tcpProxy.ts
// in front of a real sshd cuts it (FIN or RST, either direction) at 20 points spread over a
// full publication, and stalls it once past CASA_SFTP_TIMEOUT. After each fault (see
// test/helpers/faults.ts): one error line naming the server, nothing under a final name that
// is not the local file (the SIF, its .md5 and .dockerid; images.json and index.html whole),
// and the next run publishes it all. The counts are printed (quoted in the README's
// reliability section). The ORAS side: faults_publish_singularity_oras.test.ts.
import t from 'tap'
import { createHash } from 'node:crypto'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { injectFaults } from './helpers/faults.js'
import { ensureBusyboxImage, startHttpServer, startSshd } from './helpers/services.js'
import { proxiedSshd, workflowRepository } from './helpers/sftp.js'

// A tag unique to this run: the same test file may run at once in another clone.
const tag = `1.0-f${process.pid}`
const image = `casa-test-sifsftp-f/small:${tag}`
const sifName = `casa-test-sifsftp-f_small_${tag}.sif`
execFileSync('docker', ['tag', ensureBusyboxImage(), image])
t.teardown(() => {
  spawnSync('docker', ['image', 'rm', image])
})
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

// 21 faults, each a run and its re-run of the CLI: minutes on a loaded machine, past tap's default
t.setTimeout(1_800_000)

t.test('publish_singularity to an sftp hub, cut at 20 points and stalled once', async (t) => {
  const sshd = await startSshd()
  t.teardown(sshd.stop)
  const via = await proxiedSshd(t, sshd, { lifetimeMs: 1_800_000 })
  const hubDir = join(sshd.root, 'www', 'sif')
  mkdirSync(hubDir, { recursive: true })
  // the download URL (read to skip what is there) is served directly: only the upload is cut
  const http = await startHttpServer(hubDir)
  t.teardown(http.stop)
  const repo = workflowRepository(t, `{ hubs: { singularity: { upload: '${via.url(hubDir)}', download: '${http.url}' } }, ${via.sshConfig} }`)
  const created = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(created.code, 0, created.stderr.slice(-600))
  const sif = join(repo.dir, sifName)
  const local: Record<string, Buffer> = Object.fromEntries([sifName, `${sifName}.md5`, `${sifName}.dockerid`].map((name) => [name, readFileSync(join(repo.dir, name))]))

  const counts = await injectFaults(t, {
    proxy: via.proxy,
    reset: () => {
      rmSync(hubDir, { recursive: true, force: true })
      mkdirSync(hubDir, { recursive: true })
    },
    run: (env = {}) => runCli(['-r', repo.dir, 'publish_singularity', image], { env: { ...repo.env, ...env } }),
    server: new RegExp(`127\\.0\\.0\\.1\\]?:${via.proxy.port}`),
    stallEnv: { CASA_SFTP_TIMEOUT: '3' },
    damaged: () => {
      const problems: string[] = []
      for (const name of readdirSync(hubDir)) {
        if (name.includes('.casa-tmp-')) continue // a temporary name: not seen by readers
        const data = readFileSync(join(hubDir, name))
        if (name in local) {
          if (!data.equals(local[name]!)) problems.push(`${name} on the hub is not the local file (${data.length} of ${local[name]!.length} bytes)`)
        } else if (name === 'images.json') {
          try {
            JSON.parse(data.toString())
          } catch {
            problems.push('images.json on the hub is not whole')
          }
        } else if (name === 'index.html') {
          if (!/<\/html>\s*$/.test(data.toString())) problems.push('index.html on the hub is not whole')
        } else problems.push(`${name}: not expected on the hub`)
      }
      return problems
    },
    incomplete: () => {
      const names = readdirSync(hubDir).filter((n) => !n.includes('.casa-tmp-'))
      for (const name of [...Object.keys(local), 'images.json', 'index.html']) if (!names.includes(name)) return `${name} missing on the hub`
      const index = JSON.parse(readFileSync(join(hubDir, 'images.json'), 'utf8'))
      if (!JSON.stringify(index).includes(sha256(readFileSync(sif)))) return 'images.json does not list the image'
      return undefined
    },
  })
  t.ok(counts)
})
