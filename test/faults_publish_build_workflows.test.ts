// publish_build_workflows against a connection that drops: test/helpers/tcpProxy.ts in front
// of a real sshd cuts it (FIN or RST, either direction) at 20 points spread over a full
// upload, and stalls it once past CASA_SFTP_TIMEOUT (see test/helpers/faults.ts). Each faulted
// run must exit non-zero with one error line naming the server, leave no file under its final
// name that differs from the local one (partial or stale), and the run after it must complete
// the mirror. The counts are printed (quoted in the README's reliability
// section).
import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { runCli } from './helpers/cli.js'
import { startSshd } from './helpers/services.js'
import { startTcpProxy } from './helpers/tcpProxy.js'
import { injectFaults } from './helpers/faults.js'
import { workflowRepository } from './helpers/sftp.js'

function files(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name)
      if (statSync(full).isDirectory()) walk(full)
      else out.push(relative(dir, full))
    }
  }
  walk(dir)
  return out.sort()
}
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

// 21 faults, each a run and its re-run of the CLI: minutes on a loaded machine, past tap's default
t.setTimeout(1_800_000)

t.test('publish_build_workflows cut at 20 points and stalled once: fails with one line, loses nothing, the next run completes', async (t) => {
  const sshd = await startSshd()
  t.teardown(sshd.stop)
  const proxy = await startTcpProxy({ targetPort: sshd.port, lifetimeMs: 1_800_000 })
  t.teardown(proxy.stop)
  const knownHosts = join(sshd.root, '..', 'known_hosts_proxy')
  writeFileSync(knownHosts, `[127.0.0.1]:${proxy.port} ${sshd.hostKeyPublic.split(' ').slice(0, 2).join(' ')}\n`)
  const hubDir = join(sshd.root, 'hub')
  const repo = workflowRepository(
    t,
    `{ hubs: { buildWorkflows: { upload: 'sftp://${sshd.user}@127.0.0.1:${proxy.port}${hubDir}' } }, ssh: { identityFile: ${JSON.stringify(sshd.clientKey)}, knownHosts: ${JSON.stringify(knownHosts)} } }`,
  )
  // a workflow of 40 files, small ones and a few of 300 kB (streamed in blocks)
  const workflow = join(repo.dir, 'bv', 'master_ubuntu-22.04')
  for (let i = 0; i < 40; i++) {
    const path = join(workflow, `d${i % 4}`, `f${i}.${i % 10 === 0 ? 'bin' : 'py'}`)
    mkdirSync(join(path, '..'), { recursive: true })
    writeFileSync(path, Buffer.alloc(i % 10 === 0 ? 300_000 : 2_000 + i * 97, `${i} content\n`))
  }
  mkdirSync(join(workflow, 'conf'), { recursive: true })
  writeFileSync(join(workflow, 'conf', 'casa_distro.json'), '{"distro":"bv"}')
  const local = files(workflow)
  const remote = join(hubDir, 'bv', 'master_ubuntu-22.04')
  const published = () => {
    try {
      return files(remote).filter((f) => !f.includes('.casa-tmp-') && !f.endsWith('.casa-mirror.lock'))
    } catch {
      return [] // the cut came before the directory was made
    }
  }

  const counts = await injectFaults(t, {
    proxy,
    reset: () => rmSync(hubDir, { recursive: true, force: true }),
    run: (env = {}) => runCli(['-r', repo.dir, 'publish_build_workflows'], { env: { ...repo.env, ...env } }),
    server: new RegExp(`127\\.0\\.0\\.1\\]?:${proxy.port}`),
    stallEnv: { CASA_SFTP_TIMEOUT: '3' },
    // every file under its final name is the local one (a partial file has a temporary name)
    damaged: () => published().filter((f) => !local.includes(f) || sha(join(remote, f)) !== sha(join(workflow, f))).map((f) => `${f} on the hub is not the local file`),
    incomplete: () => (published().join() === local.join() ? undefined : `the hub holds ${published().length} of ${local.length} files`),
  })
  t.ok(counts)
})
