// The FROM image of a definition is pulled through the engine's API (no docker CLI process),
// as the CLI would pull it: from the reference registry (a public one, and one with htpasswd
// auth whose login comes only from `docker login` into a private DOCKER_CONFIG), the image
// then used by the build, the password never printed. And where the engine cannot be reached
// through its socket (DOCKER_HOST tcp://), the CLI still does it.
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pullTarget } from '../lib/docker/docker.js'
import { runCli } from './helpers/cli.js'
import { ensureBusyboxImage, startRegistry } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

const ns = 'casa-test-pull'
const base = ensureBusyboxImage()
const password = 'pull-Secret-7781'
const sh = (args: string[], env: NodeJS.ProcessEnv = process.env, input?: string) => execFileSync('docker', args, { encoding: 'utf8', env, input, stdio: ['pipe', 'pipe', 'pipe'] })
const present = (ref: string) => spawnSync('docker', ['image', 'inspect', ref], { stdio: 'ignore' }).status === 0

t.test('what is asked of the engine for a reference', async (t) => {
  t.same(pullTarget('busybox'), { name: 'busybox', tag: 'latest', registry: 'docker.io' })
  t.same(pullTarget('casa/base:5.3'), { name: 'casa/base', tag: '5.3', registry: 'docker.io' })
  t.same(pullTarget('127.0.0.1:5000/casa/base'), { name: '127.0.0.1:5000/casa/base', tag: 'latest', registry: '127.0.0.1:5000' })
  t.same(pullTarget('localhost/x:1'), { name: 'localhost/x', tag: '1', registry: 'localhost' })
  const digest = `sha256:${'a'.repeat(64)}`
  t.same(pullTarget(`reg.example.org/a/b:1@${digest}`), { name: 'reg.example.org/a/b', tag: digest, registry: 'reg.example.org' })
})

const publicRegistry = await startRegistry()
const privateRegistry = await startRegistry({ auth: { user: 'casa', password } })
t.teardown(() => Promise.all([publicRegistry.stop(), privateRegistry.stop()]))
const repo = tempDir(t, 'casa-pull-repo-')
const home = join(repo, '.home')
const dockerConfig = join(repo, '.docker')
mkdirSync(home)
mkdirSync(dockerConfig)
const bases = [`${publicRegistry.host}/casa-pull/base:1`, `${privateRegistry.host}/casa-pull/base:1`]
t.teardown(() => {
  const refs = sh(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']).split('\n').filter((r) => r.startsWith(`${ns}/`) || bases.includes(r))
  if (refs.length) spawnSync('docker', ['image', 'rm', '-f', ...refs])
})

// Each base pushed to its registry, then removed here: only a pull can bring it back.
const loginEnv = { ...process.env, DOCKER_CONFIG: dockerConfig }
sh(['login', '--username', 'casa', '--password-stdin', privateRegistry.host], loginEnv, password)
for (const ref of bases) {
  sh(['tag', base, ref])
  sh(['push', ref], loginEnv)
  sh(['image', 'rm', ref])
}
sh(['logout', privateRegistry.host], loginEnv)

const defs = join(repo, 'share', 'docker')
for (const [i, ref] of bases.entries()) {
  mkdirSync(join(defs, `img${i}`, 'bb'), { recursive: true })
  writeFileSync(join(defs, `img${i}`, 'bb', 'casa_distro_docker.yaml'), `image_sources:\n  - name: img${i}\n    tags: ["1"]\n`)
  writeFileSync(join(defs, `img${i}`, 'bb', 'Dockerfile'), `FROM ${ref}\nRUN echo ${i} > /n\n`)
}
writeFileSync(join(repo, 'casa.config.ts'), `export default { namespace: '${ns}', imageSearchPath: ['{repository}/share/docker'] }\n`)
const env = { HOME: home, CASA_CONFIG: join(repo, 'casa.config.ts'), DOCKER_CONFIG: dockerConfig }
const cli = (args: string[], extra: NodeJS.ProcessEnv = {}) => runCli(['-r', repo, ...args], { env: { ...env, ...extra } })

t.test('a public base is pulled through the engine API, then built on', async (t) => {
  const result = await cli(['-v', 'create_docker', `${ns}/img0:*`])
  t.equal(result.code, 0, result.stderr)
  t.match(result.stderr, `docker pull --quiet ${bases[0]}`, '-v says what the CLI would have run')
  t.match(result.stderr, 'through the engine API', 'and that the API did it')
  t.notMatch(result.stderr, /cannot pull/)
  t.ok(present(bases[0]!), 'the base is here')
  t.ok(present(`${ns}/img0:1`), 'the image was built on it')
})

t.test('a private base: refused without a login, in one line; pulled with docker login, the password never shown', async (t) => {
  const refused = await cli(['create_docker', `${ns}/img1:*`])
  t.equal(refused.code, 1)
  t.match(refused.stderr, `cannot pull base image ${bases[1]}:`)
  t.notMatch(refused.stderr, /^\s+at /m, 'no stack trace')
  t.notOk(present(bases[1]!))

  sh(['login', '--username', 'casa', '--password-stdin', privateRegistry.host], loginEnv, password)
  t.teardown(() => void spawnSync('docker', ['logout', privateRegistry.host], { env: loginEnv }))
  const pulled = await cli(['-v', 'create_docker', `${ns}/img1:*`])
  t.equal(pulled.code, 0, pulled.stderr)
  t.ok(present(bases[1]!), 'the base is here')
  t.ok(present(`${ns}/img1:1`), 'the image was built on it')
  t.notMatch(pulled.stderr + pulled.stdout, password, 'the password is not printed')
  t.notMatch(pulled.stderr + pulled.stdout, Buffer.from(`casa:${password}`).toString('base64'), 'nor its base64')
})

t.test('a login kept by a credential helper (credsStore) is asked of the helper, as the CLI does', async (t) => {
  // The helper protocol (`docker-credential-<name> get`, the server on stdin, JSON out) is
  // the real one; the helper is a script, standing in for the desktop keyrings that cannot run here.
  const bin = join(repo, '.bin')
  mkdirSync(bin, { recursive: true })
  const asked = join(repo, '.helper-asked')
  writeFileSync(join(bin, 'docker-credential-casatest'), `#!/bin/sh\nread server\necho "$server" >> ${asked}\n[ "$server" = "${privateRegistry.host}" ] || exit 1\nprintf '{"ServerURL":"%s","Username":"casa","Secret":"%s"}' "$server" '${password}'\n`, { mode: 0o755 })
  const helperConfig = join(repo, '.docker-helper')
  mkdirSync(helperConfig, { recursive: true })
  writeFileSync(join(helperConfig, 'config.json'), JSON.stringify({ credsStore: 'casatest' }))
  spawnSync('docker', ['image', 'rm', '-f', bases[1]!, `${ns}/img1:1`], { stdio: 'ignore' })
  const pulled = await cli(['-v', 'create_docker', `${ns}/img1:*`], { DOCKER_CONFIG: helperConfig, PATH: `${bin}:${process.env.PATH}` })
  t.equal(pulled.code, 0, pulled.stderr)
  t.ok(present(bases[1]!), 'the base is here')
  t.match(pulled.stderr, 'docker-credential-casatest get', '-v shows the helper run')
  t.notMatch(pulled.stderr + pulled.stdout, password, 'the password is not printed')
  t.match(readFileSync(asked, 'utf8'), privateRegistry.host, 'the helper was asked for the registry')
})

t.test('a config.json docker cannot read: pulled without a login, with a warning, as docker does', async (t) => {
  const malformed = join(repo, '.docker-malformed')
  mkdirSync(malformed, { recursive: true })
  writeFileSync(join(malformed, 'config.json'), '{not json\n')
  spawnSync('docker', ['image', 'rm', '-f', bases[0]!, `${ns}/img0:1`], { stdio: 'ignore' })
  const result = await cli(['create_docker', `${ns}/img0:*`], { DOCKER_CONFIG: malformed })
  t.equal(result.code, 0, result.stderr)
  t.match(result.stderr, /warning: cannot read the docker config .*config\.json.*: pulling .* without a login/)
  t.ok(present(bases[0]!), 'the public base is pulled')
})

t.test('with the engine behind tcp:// the CLI pulls, as before', async (t) => {
  // A tcp:// address the CLI cannot reach: the pull is the CLI's, and its failure says where.
  spawnSync('docker', ['image', 'rm', bases[0]!], { stdio: 'ignore' })
  const result = await cli(['-v', 'create_docker', '--force', `${ns}/img0:*`], { DOCKER_HOST: 'tcp://127.0.0.1:9' })
  t.equal(result.code, 1)
  t.notMatch(result.stderr, 'through the engine API')
  t.match(result.stderr, /no Docker engine answers at tcp:\/\/127\.0\.0\.1:9/)
  t.notMatch(result.stderr, /^\s+at /m, 'no stack trace')
})
