// publish_casa_distro over a connection that drops: test/helpers/tcpProxy.ts in front of a real
// sshd cuts it (FIN or RST, either direction) at 20 points spread over a full publication
// (upload of the zip, then the switch of the casa-distro.zip pointer), and stalls it once past
// CASA_SFTP_TIMEOUT. After each fault (see test/helpers/faults.ts): one error line naming the
// server, the zip under its final name only whole, the pointer only to a whole zip, and the
// next run publishes it. The counts are printed (quoted in the README's reliability section).
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { lstatSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { zipArchive } from '../lib/distro/zipWriter.js'
import { runCli } from './helpers/cli.js'
import { injectFaults } from './helpers/faults.js'
import { startSshd } from './helpers/services.js'
import { proxiedSshd, workflowRepository } from './helpers/sftp.js'

const version = '9.9.9-faults'
const zipName = `casa-distro-${version}.zip`

// 21 faults, each a run and its re-run of the CLI: minutes on a loaded machine, past tap's default
t.setTimeout(1_800_000)

t.test('publish_casa_distro cut at 20 points and stalled once', async (t) => {
  const sshd = await startSshd()
  t.teardown(sshd.stop)
  const via = await proxiedSshd(t, sshd, { lifetimeMs: 1_800_000 })
  const hubDir = join(sshd.root, 'casa-distro')
  const repo = workflowRepository(t, `{ hubs: { casaDistro: { upload: '${via.url(hubDir)}' } }, ${via.sshConfig} }`)
  // a zip of 600 kB: streamed in blocks, small enough for 40 runs
  const zip = zipArchive([{ name: `casa-distro-${version}/package.json`, data: Buffer.from(JSON.stringify({ version })) }, { name: `casa-distro-${version}/payload`, data: randomBytes(600_000) }])
  writeFileSync(join(repo.dir, zipName), zip)

  const counts = await injectFaults(t, {
    proxy: via.proxy,
    reset: () => rmSync(hubDir, { recursive: true, force: true }),
    run: (env = {}) => runCli(['-r', repo.dir, 'publish_casa_distro', `package_version=${version}`], { env: { ...repo.env, ...env } }),
    server: new RegExp(`127\\.0\\.0\\.1\\]?:${via.proxy.port}`),
    stallEnv: { CASA_SFTP_TIMEOUT: '3' },
    damaged: () => {
      let names: string[] = []
      try {
        names = readdirSync(hubDir)
      } catch {
        return [] // the cut came before the directory was made
      }
      const problems: string[] = []
      for (const name of names) {
        if (name.includes('.casa-tmp-')) continue // a temporary name: not seen by readers
        if (name === zipName) {
          const data = readFileSync(join(hubDir, name))
          if (!data.equals(zip)) problems.push(`${name} on the hub is not the local zip (${data.length} of ${zip.length} bytes)`)
        } else if (name === 'casa-distro.zip') {
          if (!lstatSync(join(hubDir, name)).isSymbolicLink()) problems.push('casa-distro.zip is not a link')
          else if (readlinkSync(join(hubDir, name)) !== zipName || !names.includes(zipName)) problems.push(`casa-distro.zip points at ${readlinkSync(join(hubDir, name))}, not a whole zip`)
        } else problems.push(`${name}: not expected on the hub`)
      }
      return problems
    },
    incomplete: () => {
      const names = readdirSync(hubDir)
      if (!names.includes(zipName)) return `${zipName} missing on the hub`
      if (!names.includes('casa-distro.zip') || readlinkSync(join(hubDir, 'casa-distro.zip')) !== zipName) return 'casa-distro.zip does not point at the zip'
      return undefined
    },
  })
  t.ok(counts)
})
