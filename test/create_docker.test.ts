// create_docker and list_images end to end: the real command against the real engine, with
// image definitions in a temporary workflow repository built on the local busybox base
// (nothing can be pulled here: the FROM pull fails and the local base is used, as on an
// offline site). Every image lives under the casa-test-dkb namespace and is removed at the end.
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync, appendFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { ensureBusyboxImage } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

const ns = 'casa-test-dkb'
const base = ensureBusyboxImage()
const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const imageId = (ref: string): string | undefined => {
  const r = spawnSync('docker', ['image', 'inspect', '--format', '{{.Id}}', ref], { encoding: 'utf8' })
  return r.status === 0 ? r.stdout.trim() : undefined
}

t.teardown(() => {
  const refs = sh('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', `${ns}/*`]).split('\n').filter(Boolean)
  if (refs.length) spawnSync('docker', ['image', 'rm', '-f', ...refs])
})

const repo = tempDir(t, 'casa-dkb-repo-')
const home = join(repo, '.home')
mkdirSync(home)
const defs = join(repo, 'share', 'docker')
function definition(key: string, files: Record<string, string>): void {
  mkdirSync(join(defs, key), { recursive: true })
  for (const [name, content] of Object.entries(files)) writeFileSync(join(defs, key, name), content)
}
writeFileSync(join(repo, 'casa.config.ts'), `export default { namespace: '${ns}', imageSearchPath: ['{repository}/share/docker'], templateParameters: { msg: 'hello' } }\n`)
const env = { HOME: home, CASA_CONFIG: join(repo, 'casa.config.ts') }
const cli = (...args: string[]) => runCli(['-r', repo, ...args], { env })

definition('base/bb', {
  'casa_distro_docker.yaml': 'image_sources:\n  - name: base\n    tags: [extra, one]\n',
  Dockerfile: `FROM ${base}\nCOPY data.txt /data.txt\n`,
  'data.txt': 'v1\n',
})
definition('dev/bb', {
  'casa_distro_docker.yaml': 'dependencies:\n  - ../../base\nimage_sources:\n  - name: dev\n    tags: [x]\n',
  'Dockerfile.template': 'FROM %(namespace)s/base:one\nRUN echo %(msg)s-%(system)s > /msg\n',
})
definition('other/bb', {
  'casa_distro_docker.yaml': 'image_sources:\n  - name: other\n    tags: ["1"]\n',
  Dockerfile: `FROM ${base}\nRUN echo other > /other\n`,
})
definition('broken/bb', {
  'casa_distro_docker.yaml': 'image_sources:\n  - name: broken\n    tags: ["1"]\n',
  Dockerfile: `FROM ${base}\nRUN echo about to fail && exit 3\n`,
})
definition('afterbroken/bb', {
  'casa_distro_docker.yaml': 'dependencies: [../../broken/bb]\nimage_sources:\n  - name: afterbroken\n    tags: ["1"]\n',
  Dockerfile: `FROM ${ns}/broken:1\n`,
})

t.test('--dry-run prints the plan in order and changes nothing; --json in the bake shape', async (t) => {
  const table = await cli('create_docker', `${ns}/dev:*`, '--dry-run')
  t.equal(table.code, 0, table.stderr)
  const lines = table.stdout.trim().split('\n')
  t.match(lines[1], new RegExp(`^1\\s+${ns}/base:one\\s+build\\s+needed by ${ns}/dev:x \\(not built\\)`))
  t.match(lines[2], new RegExp(`^2\\s+${ns}/dev:x\\s+build\\s+not built`))
  const json = await cli('create_docker', '--dry-run', '--json', `${ns}/afterbroken:*,${ns}/dev:*`)
  t.equal(json.code, 0, json.stderr)
  const bake = JSON.parse(json.stdout)
  const order: string[] = bake.group.default.targets
  t.ok(order.indexOf(`${ns}-base-one`) < order.indexOf(`${ns}-dev-x`), 'base before dev')
  t.ok(order.indexOf(`${ns}-broken-1`) < order.indexOf(`${ns}-afterbroken-1`), 'broken before afterbroken')
  t.same(bake.target[`${ns}-base-one`].tags, [`${ns}/base:one`, `${ns}/base:extra`])
  t.same(bake.target[`${ns}-dev-x`]['x-casa'].depends_on, [`${ns}-base-one`])
  t.equal(imageId(`${ns}/base:one`), undefined, 'nothing built')

  // A second search directory with the same <image_type>/<system>: shadowed, listed with -v.
  const site = tempDir(t, 'casa-dkb-site-')
  mkdirSync(join(site, 'base', 'bb'), { recursive: true })
  writeFileSync(join(site, 'base', 'bb', 'casa_distro_docker.yaml'), 'image_sources:\n  - name: shadowed\n    tags: ["1"]\n')
  writeFileSync(join(site, 'casa.config.ts'), `export default { namespace: '${ns}', imageSearchPath: ['{repository}/share/docker', '${site}'], templateParameters: { msg: 'hello' } }\n`)
  const verbose = await runCli(['-r', repo, '-v', 'list_images', '--json'], { env: { ...env, CASA_CONFIG: join(site, 'casa.config.ts') } })
  t.equal(verbose.code, 0, verbose.stderr)
  t.match(verbose.stderr, `image definition ${join(site, 'base', 'bb')} is shadowed by ${join(defs, 'base', 'bb')}`)
  t.notOk((JSON.parse(verbose.stdout) as { image: string }[]).some((r) => r.image.includes('shadowed')), 'the first directory wins')
})

t.test('a dependency is built first, then everything is up to date; a change rebuilds it and its dependents', async (t) => {
  const first = await cli('create_docker', `${ns}/dev:*`)
  t.equal(first.code, 0, first.stderr)
  t.match(first.stderr, `${ns}/base:one will be built first: needed by ${ns}/dev:x (not built)`)
  t.match(first.stderr, /warning: cannot pull casa-test-base\/busybox:1 .*using the local image/, 'offline: the local base is used')
  t.match(first.stdout, /2 built, 0 up to date, 0 failed, 0 skipped/)
  const baseId = imageId(`${ns}/base:one`)!
  t.equal(imageId(`${ns}/base:extra`), baseId, 'the extra tag names the same image')
  t.equal(sh('docker', ['run', '--rm', `${ns}/dev:x`, 'cat', '/msg']).trim(), 'hello-bb', 'templates applied with config parameters')
  const labels = JSON.parse(sh('docker', ['image', 'inspect', '--format', '{{json .Config.Labels}}', `${ns}/dev:x`]))
  t.match(labels['org.brainvisa.casa-distro.context-digest'], /^sha256:[0-9a-f]{64}$/)
  t.equal(labels['org.brainvisa.casa-distro.base-ids'], baseId)

  const again = await cli('create_docker', `${ns}/dev:*,${ns}/base:*`)
  t.equal(again.code, 0, again.stderr)
  t.match(again.stdout, /0 built, 2 up to date, 0 failed, 0 skipped/)
  t.notMatch(again.stderr, /building/)

  const listing = await cli('list_images', '--json', `${ns}/base:*,${ns}/dev:*,${ns}/other:*`)
  t.equal(listing.code, 0, listing.stderr)
  const rows = JSON.parse(listing.stdout) as { image: string; state: string; localImage: string | null; dependencies: string[]; tags: string[] }[]
  t.same(rows.map((r) => [r.image, r.state]), [[`${ns}/base:one`, 'up to date'], [`${ns}/dev:x`, 'up to date'], [`${ns}/other:1`, 'not built']])
  t.same(rows[1]!.dependencies, [`${ns}/base:one`])
  t.equal(rows[0]!.localImage, baseId.slice(7, 19))

  const devId = imageId(`${ns}/dev:x`)!
  appendFileSync(join(defs, 'base/bb/data.txt'), 'v2\n')
  const stale = await cli('list_images', `${ns}/base:*,${ns}/dev:*`)
  t.match(stale.stdout, new RegExp(`${ns}/base:one\\s+extra, one\\s+.*out of date \\(files changed\\)`))
  t.match(stale.stdout, new RegExp(`${ns}/dev:x .*out of date \\(base ${ns}/base:one out of date\\)`))

  const rebuilt = await cli('create_docker', `${ns}/dev:*`)
  t.equal(rebuilt.code, 0, rebuilt.stderr)
  t.match(rebuilt.stdout, /2 built, 0 up to date/)
  t.match(rebuilt.stderr, `${ns}/base:one will be built first: needed by ${ns}/dev:x (files changed)`)
  t.not(imageId(`${ns}/base:one`), baseId)
  t.not(imageId(`${ns}/dev:x`), devId)
  t.equal(imageId(`${ns}/base:extra`), imageId(`${ns}/base:one`), 'extra tag moved to the new image')
  t.equal(sh('docker', ['run', '--rm', `${ns}/base:one`, 'cat', '/data.txt']), 'v1\nv2\n')
  t.equal(imageId(baseId), undefined, 'the superseded base id is removed once its old dependent is gone')
  t.equal(imageId(devId), undefined, 'the superseded dev id is removed')

  const rebuiltDevId = imageId(`${ns}/dev:x`)
  const forced = await cli('create_docker', `${ns}/dev:*`, 'force=1')
  t.equal(forced.code, 0, forced.stderr)
  t.match(forced.stdout, new RegExp(`${ns}/dev:x\\s+built`), 'force rebuilds the selected image')
  t.not(imageId(`${ns}/dev:x`), rebuiltDevId, 'a new image, not a replay of the layer cache')
  t.notMatch(forced.stdout, new RegExp(`${ns}/base`), 'but not its up-to-date dependency')
})

t.test('a failing build skips its dependents, the others still build, exit 1', async (t) => {
  const result = await cli('create_docker', `${ns}/broken:*,${ns}/afterbroken:*,${ns}/other:*`, 'jobs=2')
  t.equal(result.code, 1)
  t.match(result.stdout, new RegExp(`${ns}/broken:1\\s+failed .*docker build failed: .*returned a non-zero code: 3`))
  t.notMatch(result.stdout, /buildx/, "not the legacy builder's deprecation notice")
  t.match(result.stdout, new RegExp(`${ns}/afterbroken:1\\s+skipped .*${ns}/broken:1 failed`))
  t.match(result.stdout, new RegExp(`${ns}/other:1\\s+built`))
  t.match(result.stdout, /1 built, 0 up to date, 1 failed, 1 skipped/)
  t.notMatch(result.stderr, /at .*\.js:\d+/, 'no stack trace')
  t.ok(imageId(`${ns}/other:1`))
  t.equal(imageId(`${ns}/broken:1`), undefined)
})

t.test("a build step that prints docker's own 'cannot connect' words is a failed build, not a missing engine", async (t) => {
  // Shell form (the legacy builder repeats the command in its error) and exec form with
  // newlines (the words then start a line of stderr, as the CLI's own message would).
  const said = 'Cannot connect to the Docker daemon at tcp://db.example:2375. Is the docker daemon running?'
  definition('enginetalk/bb', {
    'casa_distro_docker.yaml': 'image_sources:\n  - name: enginetalk\n    tags: ["1"]\n',
    Dockerfile: `FROM ${base}\nRUN echo "${said}" && exit 3\n`,
  })
  definition('enginetalk2/bb', {
    'casa_distro_docker.yaml': 'image_sources:\n  - name: enginetalk2\n    tags: ["1"]\n',
    Dockerfile: `FROM ${base}\nRUN ["sh", "-c", "echo x\\n${said}\\nerror during connect: no\\nexit 3"]\n`,
  })
  for (const name of ['enginetalk', 'enginetalk2']) {
    const result = await cli('create_docker', `${ns}/${name}:*`)
    t.equal(result.code, 1, result.stderr)
    t.match(result.stdout, new RegExp(`${ns}/${name}:1\\s+failed .*docker build failed: `), `${name}: said as a failed build`)
    t.notMatch(result.stdout + result.stderr, /no Docker engine answers/, `${name}: not as a missing engine`)
  }
})

t.test('an image depending on two others is rebuilt when the one it only COPYs from changes', async (t) => {
  definition('combo/bb', {
    'casa_distro_docker.yaml': 'dependencies: [../../dev, ../../other/bb]\nimage_sources:\n  - name: combo\n    tags: ["1"]\n',
    Dockerfile: `FROM ${ns}/dev:x\nCOPY --from=${ns}/other:1 /other /other\n`,
  })
  const first = await cli('create_docker', `${ns}/combo:*`)
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, /1 built, 0 up to date/, 'its dependencies are up to date: only combo is built')
  t.equal(sh('docker', ['run', '--rm', `${ns}/combo:1`, 'cat', '/msg', '/other']), 'hello-bb\nother\n')

  appendFileSync(join(defs, 'other/bb/Dockerfile'), 'RUN echo again >> /other\n')
  const listing = JSON.parse((await cli('list_images', '--json', `${ns}/combo:*`)).stdout) as { state: string }[]
  t.same(listing.map((r) => r.state), [`out of date (base ${ns}/other:1 out of date)`])
  const plan = await cli('create_docker', `${ns}/combo:*`, '--dry-run')
  t.match(plan.stdout, new RegExp(`1\\s+${ns}/other:1\\s+build\\s+needed by ${ns}/combo:1 \\(files changed\\)`))
  t.match(plan.stdout, new RegExp(`2\\s+${ns}/combo:1\\s+build\\s+base ${ns}/other:1 rebuilt first`))
  t.notMatch(plan.stdout, `${ns}/dev:x  `, 'dev is up to date and stays out of the plan')
  const rebuilt = await cli('create_docker', `${ns}/combo:*`)
  t.equal(rebuilt.code, 0, rebuilt.stderr)
  t.match(rebuilt.stdout, /2 built, 0 up to date/)
  t.equal(sh('docker', ['run', '--rm', `${ns}/combo:1`, 'cat', '/other']), 'other\nagain\n')
})

t.test('bad input: one line, exit 1, nothing built', async (t) => {
  const none = await cli('create_docker', 'nomatch/*')
  t.equal(none.code, 1)
  t.equal(none.stderr.trim(), `error: No image match filter "nomatch/*" in the image definitions of ${defs}`, 'where it looked: the imageSearchPath, expanded')

  definition('zbad/bb', { 'casa_distro_docker.yaml': 'image_sources:\n  - name: zbad\n    tags: ["1"]\n    visibility: everyone\n' })
  const bad = await cli('list_images')
  t.equal(bad.code, 1)
  t.equal(bad.stderr.trim(), `error: ${join(defs, 'zbad/bb/casa_distro_docker.yaml')}:4: image_sources[0].visibility: unknown visibility "everyone" (expected public or private)`)

  writeFileSync(join(defs, 'zbad/bb/casa_distro_docker.yaml'), 'image_sources:\n  - name: zbad\n    tags: ["1"]\n')
  const noDockerfile = await cli('create_docker', `${ns}/zbad:*`)
  t.equal(noDockerfile.code, 1)
  t.equal(noDockerfile.stderr.trim(), `error: ${join(defs, 'zbad/bb')}: no Dockerfile (nor Dockerfile.template) in the image definition`)

  writeFileSync(join(defs, 'zbad/bb/casa_distro_docker.yaml'), 'dependencies: [../../zcycle/bb]\nimage_sources:\n  - name: zbad\n    tags: ["1"]\n')
  definition('zcycle/bb', { 'casa_distro_docker.yaml': 'dependencies: [../../zbad/bb]\nimage_sources:\n  - name: zcycle\n    tags: ["1"]\n', Dockerfile: `FROM ${base}\n` })
  const cycle = await cli('create_docker', `${ns}/other:*`)
  t.equal(cycle.code, 1)
  t.match(cycle.stderr.trim(), /^error: dependency cycle between image definitions: zbad\/bb -> zcycle\/bb -> zbad\/bb/)
})

t.test('a plan of many images inspects them at once without a warning from node', async (t) => {
  // Each inspection listens to the run's shared signals; past ten at once node warned of a
  // "possible EventTarget memory leak" on every run over a catalog of ten images or more.
  const many = tempDir(t, 'casa-dkb-many-')
  for (let i = 0; i < 12; i++) {
    const dir = join(many, 'share', 'docker', `m${i}`, 'bb')
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, 'casa_distro_docker.yaml'), `image_sources:\n  - name: many${i}\n    tags: ["1"]\n`)
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${base}\nENV N=${i}\n`)
  }
  writeFileSync(join(many, 'casa.config.ts'), `export default { namespace: '${ns}', imageSearchPath: ['{repository}/share/docker'] }\n`)
  const manyEnv = { HOME: home, CASA_CONFIG: join(many, 'casa.config.ts') }
  for (const args of [['create_docker', '--dry-run'], ['list_images']]) {
    const result = await runCli(['-r', many, ...args], { env: manyEnv })
    t.equal(result.code, 0, result.stderr)
    t.match(result.stdout, `${ns}/many11:1`, `${args[0]}: every image planned`)
    t.notMatch(result.stderr, /MaxListenersExceededWarning|Warning:/, `${args[0]}: no warning from node`)
  }
})
