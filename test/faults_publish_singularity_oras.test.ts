// publish_singularity to an ORAS registry over a connection that drops: test/helpers/tcpProxy.ts
// in front of the reference registry cuts it (FIN or RST, either direction; the bytes
// counted over all the client's connections) at 20 points spread over a full push, and
// stalls it once past CASA_REGISTRY_TIMEOUT. After each fault (see test/helpers/faults.ts):
// one error line naming the registry, a tag only for a manifest whose blob is the whole SIF
// (read straight from the registry), and the next run pushes it. The counts are printed
// (quoted in the README's reliability section).
import t from 'tap'
import { createHash } from 'node:crypto'
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { injectFaults } from './helpers/faults.js'
import { ensureBusyboxImage, startRegistry } from './helpers/services.js'
import { workflowRepository } from './helpers/sftp.js'
import { startTcpProxy } from './helpers/tcpProxy.js'

// A tag unique to this run: the same test file may run at once in another clone.
const tag = `1.0-o${process.pid}`
const image = `casa-test-siforas/small:${tag}`
const sifName = `casa-test-siforas_small_${tag}.sif`
execFileSync('docker', ['tag', ensureBusyboxImage(), image])
t.teardown(() => {
  spawnSync('docker', ['image', 'rm', image])
})
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex')

// 21 faults, each a run and its re-run of the CLI: minutes on a loaded machine, past tap's default
t.setTimeout(1_800_000)

t.test('publish_singularity to an ORAS registry, cut at 20 points and stalled once', async (t) => {
  const registry = await startRegistry()
  t.teardown(registry.stop)
  const proxy = await startTcpProxy({ targetPort: registry.port, lifetimeMs: 1_800_000 })
  t.teardown(proxy.stop)
  const repo = workflowRepository(t, `{ hubs: { singularity: { upload: 'oras://127.0.0.1:${proxy.port}/casa-fault' } } }`)
  const created = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(created.code, 0, created.stderr.slice(-600))
  const sif = readFileSync(join(repo.dir, sifName))
  const digest = `sha256:${sha256(sif)}`
  // read straight from the registry, not through the proxy
  const api = `http://${registry.host}/v2/casa-fault/small`
  const manifestOf = async (): Promise<{ layers: { digest: string; size: number }[] } | undefined> => {
    const response = await fetch(`${api}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })
    return response.status === 404 ? undefined : response.json()
  }

  const counts = await injectFaults(t, {
    proxy,
    // an empty registry (filesystem storage, no cache): every run pushes the whole image
    reset: () => rmSync(join(registry.storage, 'docker'), { recursive: true, force: true }),
    run: (env = {}) => runCli(['-r', repo.dir, 'publish_singularity', image], { env: { ...repo.env, ...env } }),
    server: new RegExp(`127\\.0\\.0\\.1:${proxy.port}`),
    stallEnv: { CASA_REGISTRY_TIMEOUT: '3' },
    damaged: async () => {
      const manifest = await manifestOf()
      if (!manifest) return [] // no tag: nothing published, nothing wrong
      const layer = manifest.layers[0]
      if (layer?.digest !== digest || layer.size !== sif.length) return [`the tag points at a layer ${layer?.digest} of ${layer?.size} bytes, not the SIF`]
      const blob = Buffer.from(await (await fetch(`${api}/blobs/${digest}`)).arrayBuffer())
      return sha256(blob) === digest.slice(7) ? [] : [`the tagged blob is not the whole SIF (${blob.length} of ${sif.length} bytes)`]
    },
    incomplete: async () => ((await manifestOf()) ? undefined : `no tag ${tag} in the registry`),
  })
  t.ok(counts)
})
