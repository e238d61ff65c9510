// publish_singularity end to end: a real SIF made by create_singularity, pushed as an ORAS
// artifact to the reference registry (htpasswd auth, credentials from a docker config file),
// checked over the registry HTTP API and with skopeo; inspect_singularity on the same file.
import t from 'tap'
import { createHash } from 'node:crypto'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { ensureBusyboxImage, startRegistry } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

const image = 'casa-test-sifpub/small:2.0'
const base = ensureBusyboxImage()
execFileSync('docker', ['tag', base, image])
t.teardown(() => {
  spawnSync('docker', ['image', 'rm', image])
})

function repository(config: string): { dir: string; env: Record<string, string> } {
  const dir = tempDir(t, 'casa-sifpub-repo-')
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), `export default ${config}\n`)
  return { dir, env: { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts'), DOCKER_CONFIG: join(home, '.docker') } }
}

t.test('ORAS push to an authenticated registry, digests checked, skipped when up to date', async (t) => {
  const auth = { user: 'casa', password: 'pub-s3cret' }
  const registry = await startRegistry({ auth })
  t.teardown(registry.stop)
  const repo = repository(`{ hubs: { singularity: { upload: 'oras://${registry.host}/casa-test' } } }`)
  mkdirSync(repo.env.DOCKER_CONFIG!)
  writeFileSync(join(repo.env.DOCKER_CONFIG!, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${auth.user}:${auth.password}`).toString('base64') } } }))

  const created = await runCli(['-r', repo.dir, 'create_singularity', 'casa-test-sifpub/*'], { env: repo.env })
  t.equal(created.code, 0, created.stderr)
  const sif = join(repo.dir, 'casa-test-sifpub_small_2.0.sif')
  const digest = `sha256:${createHash('sha256').update(readFileSync(sif)).digest('hex')}`

  const inspected = await runCli(['inspect_singularity', sif])
  t.equal(inspected.code, 0, inspected.stderr)
  t.match(inspected.stdout, /FS \(Squashfs\/\*System\/amd64\)/)
  t.match(inspected.stdout, /docker image: casa-test-sifpub\/small:2\.0 \(sha256:/)
  t.match(inspected.stdout, new RegExp(`md5: ${readFileSync(`${sif}.md5`, 'utf8').trim()}`))

  const pushed = await runCli(['-r', repo.dir, 'publish_singularity', 'casa-test-sifpub/*'], { env: repo.env })
  t.equal(pushed.code, 0, pushed.stderr)
  t.match(pushed.stderr, /pushed to oras:\/\//)
  t.notMatch(pushed.stderr + pushed.stdout, auth.password, 'the password is never printed')

  const basic = { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` }
  const response = await fetch(`http://${registry.host}/v2/casa-test/small/manifests/2.0`, { headers: { ...basic, accept: 'application/vnd.oci.image.manifest.v1+json' } })
  t.equal(response.status, 200)
  const manifestBytes = Buffer.from(await response.arrayBuffer())
  t.equal(response.headers.get('docker-content-digest'), `sha256:${createHash('sha256').update(manifestBytes).digest('hex')}`, 'manifest digest')
  const manifest = JSON.parse(manifestBytes.toString())
  t.equal(manifest.config.mediaType, 'application/vnd.sylabs.sif.config.v1+json')
  t.equal(manifest.layers.length, 1)
  t.equal(manifest.layers[0].mediaType, 'application/vnd.sylabs.sif.layer.v1.sif')
  t.equal(manifest.layers[0].digest, digest, 'layer digest = sha256 of the SIF file')
  t.equal(manifest.layers[0].size, readFileSync(sif).length)
  t.equal(manifest.layers[0].annotations['org.opencontainers.image.title'], 'casa-test-sifpub_small_2.0.sif')
  const blob = await fetch(`http://${registry.host}/v2/casa-test/small/blobs/${digest}`, { headers: basic })
  t.equal(`sha256:${createHash('sha256').update(Buffer.from(await blob.arrayBuffer())).digest('hex')}`, digest, 'the stored blob is the SIF file')

  const skopeo = JSON.parse(
    execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', `${auth.user}:${auth.password}`, `docker://${registry.host}/casa-test/small:2.0`], { encoding: 'utf8' }),
  )
  t.equal(skopeo.layers[0].digest, digest, 'skopeo sees the same layer')

  const again = await runCli(['-r', repo.dir, 'publish_singularity', 'casa-test-sifpub/*'], { env: repo.env })
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, /up to date in oras:\/\//)
})

t.test('ORAS push without a docker login: one line saying so', async (t) => {
  const registry = await startRegistry({ auth: { user: 'casa', password: 'x' } })
  t.teardown(registry.stop)
  const repo = repository(`{ hubs: { singularity: { upload: 'oras://${registry.host}/casa-test' } } }`)
  const created = await runCli(['-r', repo.dir, 'create_singularity', 'casa-test-sifpub/*'], { env: repo.env })
  t.equal(created.code, 0, created.stderr)
  const pushed = await runCli(['-r', repo.dir, 'publish_singularity', 'casa-test-sifpub/*'], { env: repo.env })
  t.equal(pushed.code, 1)
  t.match(pushed.stderr, /error: registry 127\.0\.0\.1:\d+ needs a login: run docker login/)
  t.notMatch(pushed.stderr, /\n\s+at /, 'no stack trace')
})
