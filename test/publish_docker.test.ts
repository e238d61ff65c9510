// publish_docker and update_docker end to end against two real registries on loopback (the
// reference "distribution" server): a public one without auth and a private one with htpasswd
// auth. Credentials come only from `docker login` into a private DOCKER_CONFIG. Images live
// under the casa-test-dkp namespace and are removed at the end.
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { runCli } from './helpers/cli.js'
import { freePort } from './helpers/net.js'
import { ensureBusyboxImage, startRegistry } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

const ns = 'casa-test-dkp'
const base = ensureBusyboxImage()
const sh = (cmd: string, args: string[], env?: NodeJS.ProcessEnv, input?: string) =>
  execFileSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, input, stdio: ['pipe', 'pipe', 'pipe'] })
const imageId = (ref: string): string | undefined => {
  const r = spawnSync('docker', ['image', 'inspect', '--format', '{{.Id}}', ref], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : undefined
}

const password = 'pw-never-shown-7Q'
const publicRegistry = await startRegistry()
const privateRegistry = await startRegistry({ auth: { user: 'casa', password } })
t.teardown(async () => {
  const refs = sh('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}'])
    .split('\n')
    .filter((r) => r.startsWith(`${ns}/`) || r.startsWith(`${publicRegistry.host}/`) || r.startsWith(`${privateRegistry.host}/`))
  if (refs.length) spawnSync('docker', ['image', 'rm', '-f', ...refs])
  await publicRegistry.stop()
  await privateRegistry.stop()
})

const repo = tempDir(t, 'casa-dkp-repo-')
const home = join(repo, '.home')
const dockerConfig = join(repo, '.docker')
mkdirSync(home)
mkdirSync(dockerConfig)
const defs = join(repo, 'share', 'docker')
for (const [key, name, visibility] of [
  ['pub/bb', 'pub', 'public'],
  ['priv/bb', 'priv', 'private'],
] as const) {
  mkdirSync(join(defs, key), { recursive: true })
  writeFileSync(join(defs, key, 'casa_distro_docker.yaml'), `image_sources:\n  - name: ${name}\n    tags: [v1, latest-build]\n    visibility: ${visibility}\n`)
  writeFileSync(join(defs, key, 'Dockerfile'), `FROM ${base}\nRUN echo ${name} > /name\n`)
}
writeFileSync(
  join(repo, 'casa.config.ts'),
  `export default {
  namespace: '${ns}',
  imageSearchPath: ['{repository}/share/docker'],
  hubs: { docker: {
    public: { registry: '${publicRegistry.host}', namespace: 'demo' },
    private: { registry: '${privateRegistry.host}', namespace: 'site' },
  } },
}\n`,
)
const env = { HOME: home, CASA_CONFIG: join(repo, 'casa.config.ts'), DOCKER_CONFIG: dockerConfig }
const cli = (...args: string[]) => runCli(['-r', repo, ...args], { env })

/** The registry's own digest for a tag (HEAD on the manifest, as a client would see it). */
async function registryDigest(host: string, repository: string, tag: string, auth?: string): Promise<string | undefined> {
  const response = await request(`http://${host}/v2/${repository}/manifests/${tag}`, {
    method: 'HEAD',
    headers: { accept: 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json', ...(auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {}) },
  })
  await response.body.dump()
  return response.statusCode === 200 ? String(response.headers['docker-content-digest']) : undefined
}

t.test('build, then publish: public pushed, private refused without a login', async (t) => {
  const built = await cli('create_docker')
  t.equal(built.code, 0, built.stderr)

  const dry = await cli('publish_docker', '--dry-run')
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, new RegExp(`${ns}/pub:v1\\s+${publicRegistry.host}/demo/pub:v1\\s+public`))
  t.match(dry.stdout, new RegExp(`${ns}/priv:latest-build\\s+${privateRegistry.host}/site/priv:latest-build\\s+private`))

  const result = await cli('publish_docker')
  t.equal(result.code, 1, 'a refused push fails the run')
  t.match(result.stderr, `error: push to ${privateRegistry.host} refused: not logged in or not allowed (run: docker login ${privateRegistry.host})`)
  t.match(result.stdout, /2 pushed, 0 up to date, 2 failed/)
  for (const tag of ['v1', 'latest-build']) {
    const digest = await registryDigest(publicRegistry.host, 'demo/pub', tag)
    t.match(digest, /^sha256:/, `demo/pub:${tag} is in the public registry`)
    t.match(result.stdout, new RegExp(`${publicRegistry.host}/demo/pub:${tag}\\s+pushed\\s+${digest}`), 'the digest reported is the registry\'s')
    const repoDigests = sh('docker', ['image', 'inspect', '--format', '{{json .RepoDigests}}', `${publicRegistry.host}/demo/pub:${tag}`])
    t.match(repoDigests, `${publicRegistry.host}/demo/pub@${digest}`, 'and the local repo digest')
  }
  t.equal(await registryDigest(privateRegistry.host, 'site/priv', 'v1', `casa:${password}`), undefined, 'nothing in the private registry')
})

t.test('after docker login the private push goes through, the password never shown', async (t) => {
  sh('docker', ['login', '--username', 'casa', '--password-stdin', privateRegistry.host], { ...process.env, DOCKER_CONFIG: dockerConfig }, password)
  const result = await cli('-v', 'publish_docker', `${ns}/priv:*`)
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, /2 pushed, 0 up to date, 0 failed/)
  const digest = await registryDigest(privateRegistry.host, 'site/priv', 'latest-build', `casa:${password}`)
  t.match(digest, /^sha256:/)
  t.match(result.stdout, new RegExp(`${privateRegistry.host}/site/priv:latest-build\\s+pushed\\s+${digest}`))
  t.notMatch(result.stdout + result.stderr, password)
  t.match(result.stderr, `$ docker push ${privateRegistry.host}/site/priv:v1`, '-v shows the docker commands')

  const again = await cli('-v', 'publish_docker', `${ns}/priv:*`)
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /0 pushed, 2 up to date, 0 failed/, 'the registry already serves these manifests')
  t.match(again.stdout, new RegExp(`${privateRegistry.host}/site/priv:latest-build\\s+up to date\\s+${digest}`))
  t.notMatch(again.stderr, '$ docker push', 'nothing pushed')
})

t.test('update_docker pulls the images from their hubs and tags them locally', async (t) => {
  const pubId = imageId(`${ns}/pub:v1`)!
  spawnSync('docker', ['image', 'rm', `${ns}/pub:v1`, `${ns}/pub:latest-build`, `${publicRegistry.host}/demo/pub:v1`, `${publicRegistry.host}/demo/pub:latest-build`])
  t.equal(imageId(`${ns}/pub:v1`), undefined, 'removed locally')
  const result = await cli('update_docker')
  t.equal(result.code, 0, result.stderr)
  t.match(result.stdout, new RegExp(`${publicRegistry.host}/demo/pub:latest-build\\s+updated\\s+absent -> ${pubId.slice(7, 19)}`))
  t.match(result.stdout, new RegExp(`${privateRegistry.host}/site/priv:latest-build\\s+unchanged`))
  t.match(result.stdout, /1 updated, 1 unchanged, 0 failed/)
  t.equal(imageId(`${ns}/pub:v1`), pubId, 'every tag is back, same image')
  t.equal(imageId(`${ns}/pub:latest-build`), pubId)

  const again = await cli('create_docker')
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /0 built, 2 up to date/, 'a pulled image keeps its labels: still up to date')

  sh('docker', ['logout', privateRegistry.host], { ...process.env, DOCKER_CONFIG: dockerConfig })
  spawnSync('docker', ['image', 'rm', `${privateRegistry.host}/site/priv:latest-build`])
  const refused = await cli('update_docker', `${ns}/priv:*`)
  t.equal(refused.code, 1)
  t.match(refused.stderr, `pull from ${privateRegistry.host} refused: not logged in or not allowed (run: docker login ${privateRegistry.host})`)
})

t.test('a rebuilt image published again: the old build goes once no tag names it', async (t) => {
  sh('docker', ['login', '--username', 'casa', '--password-stdin', privateRegistry.host], { ...process.env, DOCKER_CONFIG: dockerConfig }, password)
  const oldId = imageId(`${ns}/pub:v1`)!
  writeFileSync(join(defs, 'pub/bb/Dockerfile'), `FROM ${base}\nRUN echo pub changed > /name\n`)
  const built = await cli('create_docker', `${ns}/pub:*`)
  t.equal(built.code, 0, built.stderr)
  t.ok(imageId(oldId), 'still there: the registry tag of the first push names it')
  const pushed = await cli('publish_docker', `${ns}/pub:*`)
  t.equal(pushed.code, 0, pushed.stderr)
  t.equal(imageId(oldId), undefined, 'gone after the registry tags moved to the new build')
  const digest = await registryDigest(publicRegistry.host, 'demo/pub', 'v1')
  t.match(pushed.stdout, new RegExp(`${publicRegistry.host}/demo/pub:v1\\s+pushed\\s+${digest}`))
})

t.test('a push that fails says why (Docker stderr), not the progress banner', async (t) => {
  const port = await freePort()
  const config = join(repo, 'casa.dead.config.ts')
  writeFileSync(
    config,
    `export default {
  namespace: '${ns}',
  imageSearchPath: ['{repository}/share/docker'],
  hubs: { docker: {
    public: { registry: '127.0.0.1:${port}', namespace: 'demo' },
    private: { registry: '${privateRegistry.host}', namespace: 'site' },
  } },
}\n`,
  )
  const result = await runCli(['-r', repo, 'publish_docker', `${ns}/pub:v1`], { env: { ...env, CASA_CONFIG: config } })
  t.not(result.code, 0)
  t.match(result.stdout + result.stderr, /connection refused/)
  t.notMatch(result.stdout + result.stderr, /failed: The push refers to repository/)
})

t.test('--dry-run shows what the real run would do with an image never built: it fails the same way', async (t) => {
  mkdirSync(join(defs, 'nobuild/bb'), { recursive: true })
  writeFileSync(join(defs, 'nobuild/bb', 'casa_distro_docker.yaml'), 'image_sources:\n  - name: nobuild\n    tags: [v1]\n    visibility: public\n')
  writeFileSync(join(defs, 'nobuild/bb', 'Dockerfile'), `FROM ${base}\n`)
  t.teardown(() => rmSync(join(defs, 'nobuild'), { recursive: true, force: true }))
  t.equal(imageId(`${ns}/nobuild:v1`), undefined, 'never built')

  const dry = await cli('publish_docker', '--dry-run', `${ns}/pub:v1,${ns}/nobuild:*`)
  const real = await cli('publish_docker', `${ns}/nobuild:*`)
  t.equal(real.code, 1, 'the real run fails on it')
  t.match(real.stderr, `error: ${ns}/nobuild:v1 is not built (run create_docker image_names='${ns}/nobuild:v1')`)
  t.equal(dry.code, 1, `so does the dry run: ${dry.stderr}`)
  t.match(dry.stderr, `error: ${ns}/nobuild:v1 is not built (run create_docker image_names='${ns}/nobuild:v1')`, 'and says why on stderr, as the real run: exit 1 is never silent')
  t.match(dry.stdout, new RegExp(`${ns}/pub:v1\\s+${publicRegistry.host}/demo/pub:v1\\s+public\\s+push\\n`), 'a built image: pushed')
  t.match(dry.stdout, new RegExp(`${ns}/nobuild:v1\\s+${publicRegistry.host}/demo/nobuild:v1\\s+public\\s+fail: ${ns}/nobuild:v1 is not built \\(run create_docker image_names='${ns}/nobuild:v1'\\)`), 'an unbuilt one: would fail, and why')
  t.equal(await registryDigest(publicRegistry.host, 'demo/nobuild', 'v1'), undefined, 'nothing pushed')

  const json = await cli('publish_docker', '--dry-run', '--json', `${ns}/nobuild:*`)
  t.equal(json.code, 1)
  t.match(json.stderr, `error: ${ns}/nobuild:v1 is not built`, 'with --json too')
  t.same(JSON.parse(json.stdout), [{ local: `${ns}/nobuild:v1`, remote: `${publicRegistry.host}/demo/nobuild:v1`, visibility: 'public', action: 'fail', detail: `${ns}/nobuild:v1 is not built (run create_docker image_names='${ns}/nobuild:v1')` }])
})
