import t, { type Test } from 'tap'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig, mergeConfig } from '../lib/config/config.js'
import { UserError } from '../lib/util/errors.js'
import { packageRoot } from '../lib/util/paths.js'
import { tempDir } from './helpers/tmp.js'

// Every test gets a private HOME and no inherited CASA_* variables.
function isolate(t: Test): string {
  const home = tempDir(t)
  const saved = { HOME: process.env.HOME, CASA_CONFIG: process.env.CASA_CONFIG, CASA_DEFAULT_REPOSITORY: process.env.CASA_DEFAULT_REPOSITORY }
  process.env.HOME = home
  delete process.env.CASA_CONFIG
  delete process.env.CASA_DEFAULT_REPOSITORY
  t.teardown(() => {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]
    else process.env[k] = v
  })
  return home
}

t.test('mergeConfig: objects merge, lists and scalars replace', async (t) => {
  const base = { a: { b: 1, c: [1, 2] }, d: 'x' }
  t.same(mergeConfig(base, { a: { c: [3] } }), { a: { b: 1, c: [3] }, d: 'x' })
  t.same(mergeConfig(base, { d: undefined }), base)
})

t.test('builtin defaults, with paths made absolute', async (t) => {
  const home = isolate(t)
  const config = await loadConfig()
  t.equal(config.repository, join(home, 'casa_distro'))
  t.same(config.imageSearchPath, [
    join(home, 'casa_distro', 'share', 'docker'),
    join(home, '.config', 'casa-distro', 'docker'),
    join(home, '.casa-distro', 'docker'),
    join(packageRoot, 'share', 'docker'),
  ])
  t.equal(config.namespace, 'cati')
  t.equal(config.configFile, undefined)
})

t.test('a user casa.config.ts in the repository is merged over the defaults', async (t) => {
  isolate(t)
  const repo = tempDir(t)
  writeFileSync(
    join(repo, 'casa.config.ts'),
    `import { defineConfig } from 'casa-distro-admin'
import { fileURLToPath } from 'node:url'
const here: string = fileURLToPath(new URL('.', import.meta.url))
export default defineConfig(({ repository }) => ({
  jobs: 3,
  templateParameters: { here, repo: repository ?? 'none' },
  hubs: { docker: { private: { registry: 'localhost:5000', namespace: 'site' } } },
}))
`,
  )
  const config = await loadConfig({ repository: repo })
  t.equal(config.configFile, join(repo, 'casa.config.ts'))
  t.equal(config.jobs, 3)
  t.equal(config.templateParameters.here, `${repo}/`, 'import.meta.url is the config file')
  t.equal(config.templateParameters.repo, repo)
  t.same(config.hubs.docker.private, { registry: 'localhost:5000', namespace: 'site' })
  t.same(config.hubs.docker.public, { registry: 'docker.io', namespace: 'cati' }, 'untouched keys keep their defaults')
})

t.test('lookup order: --config, $CASA_CONFIG, repository, ~/.config', async (t) => {
  const home = isolate(t)
  const repo = tempDir(t)
  const write = (file: string, ns: string) => {
    mkdirSync(join(file, '..'), { recursive: true })
    writeFileSync(file, `export default { namespace: '${ns}' }\n`)
  }
  write(join(home, '.config', 'casa-distro', 'casa.config.ts'), 'from-home')
  t.equal((await loadConfig({ repository: repo })).namespace, 'from-home')
  write(join(repo, 'casa.config.ts'), 'from-repo')
  t.equal((await loadConfig({ repository: repo })).namespace, 'from-repo')
  process.env.CASA_DEFAULT_REPOSITORY = repo
  t.equal((await loadConfig()).namespace, 'from-repo', '$CASA_DEFAULT_REPOSITORY chooses the repository')
  write(join(home, 'env.config.ts'), 'from-env')
  process.env.CASA_CONFIG = join(home, 'env.config.ts')
  t.equal((await loadConfig({ repository: repo })).namespace, 'from-env')
  write(join(home, 'flag.config.ts'), 'from-flag')
  t.equal((await loadConfig({ repository: repo, configFile: join(home, 'flag.config.ts') })).namespace, 'from-flag')
})

t.test('repository: --repository, then $CASA_DEFAULT_REPOSITORY, then the config, then ~/casa_distro', async (t) => {
  const home = isolate(t)
  const file = join(home, 'c.ts')
  writeFileSync(file, `export default { repository: '~/from-config' }\n`)
  t.equal((await loadConfig({ configFile: file })).repository, join(home, 'from-config'))
  process.env.CASA_DEFAULT_REPOSITORY = '/srv/env-repo'
  t.equal((await loadConfig({ configFile: file })).repository, '/srv/env-repo')
  t.equal((await loadConfig({ configFile: file, repository: '/srv/flag' })).repository, '/srv/flag')
})

t.test('a wrong type or an unknown key is one line naming the file and the key path', async (t) => {
  const home = isolate(t)
  const file = join(home, 'bad.config.ts')
  writeFileSync(file, `export default { hubs: { singularity: { upload: 42 } } }\n`)
  await t.rejects(loadConfig({ configFile: file }), { constructor: UserError, message: `${file}: hubs.singularity.upload: expected a string, got number 42` })
  writeFileSync(file, `export default { jobz: 2 }\n`)
  await t.rejects(loadConfig({ configFile: file }), { message: `${file}: unknown key jobz (did you mean "jobs"?)` })
  writeFileSync(file, `export default { singularity: { compressor: 'brotli' } }\n`)
  await t.rejects(loadConfig({ configFile: file }), { message: /singularity\.compressor: expected one of "gzip", "zstd", "xz", "lz4", got "brotli"/ })
  writeFileSync(file, `export default { hubs: { casaDistro: { upload: 'ftp://x/y' } } }\n`)
  await t.rejects(loadConfig({ configFile: file }), { message: /hubs\.casaDistro\.upload: expected a URL starting with sftp:\/\/ or file:\/\// })
  // hub URLs are parsed when the config loads, as openHub parses them; a password is never repeated
  const badUrls: [string, RegExp][] = [
    ['file://srv/www', /hubs\.casaDistro\.upload: invalid hub URL "file:\/\/srv\/www": a file URL takes an absolute path after three slashes/],
    ['sftp:///srv/www', /hubs\.casaDistro\.upload: invalid hub URL "sftp:\/\/\/srv\/www": no host/],
    // no path at all: lftp and OpenSSH's sftp would start in the login directory, the sftp URI
    // draft at the root; neither is guessed
    ['sftp://me@host:2222', /hubs\.casaDistro\.upload: invalid hub URL "sftp:\/\/me@host:2222": no path: write sftp:\/\/me@host:2222\/~\/ for the login directory, or an absolute path/],
    ['sftp://me:hunter2@host/www', /hubs\.casaDistro\.upload: hub URL sftp:\/\/me@host\/\.\.\.: passwords in URLs are not supported/],
    ['sftp://me:hunter2@[::1/www', /hubs\.casaDistro\.upload: invalid hub URL "sftp:\/\/me:\*\*\*@\[::1\/www"/],
    ['ftp://me:hunter2@host/www', /hubs\.casaDistro\.upload: expected a URL starting with sftp:\/\/ or file:\/\/, got "ftp:\/\/me:\*\*\*@host\/www"/],
  ]
  for (const [url, message] of badUrls) {
    writeFileSync(file, `export default { hubs: { casaDistro: { upload: '${url}' } } }\n`)
    const error = await loadConfig({ configFile: file }).then(
      () => undefined,
      (e: Error) => e,
    )
    t.match(error?.message, message, url.replace('hunter2', '***'))
    t.notMatch(error?.message ?? '', /hunter2/, 'no password in the message')
  }
  writeFileSync(file, `export default { jobs: \n`)
  await t.rejects(loadConfig({ configFile: file }), { message: new RegExp(`^${file}:\\d+: `) })
  await t.rejects(loadConfig({ configFile: join(home, 'missing.ts') }), { message: /config file not found/ })
})

t.test('registries and ORAS URLs: host[:port], no credentials (never repeated), lower-case namespace', async (t) => {
  const home = isolate(t)
  const file = join(home, 'bad.config.ts')
  const cases: [string, RegExp][] = [
    [`hubs: { singularity: { upload: 'oras://u:Sekr1tPW@127.0.0.1:35001/ns' } }`, /hubs\.singularity\.upload: ORAS hub URL: credentials in a registry name are not supported; use docker login 127\.0\.0\.1:35001/],
    [`hubs: { singularity: { upload: 'file:///srv', oras: 'oras://127.0.0.1:35001/UPPER' } }`, /hubs\.singularity\.oras: ORAS hub URL oras:\/\/127\.0\.0\.1:35001\/UPPER: the namespace must be a lower-case docker namespace/],
    [`hubs: { singularity: { upload: 'oras://bad host/ns' } }`, /hubs\.singularity\.upload: ORAS hub URL: expected a registry host\[:port\]/],
    [`hubs: { docker: { public: { registry: 'u:Sekr1tPW@127.0.0.1:35001', namespace: 'demo' } } }`, /hubs\.docker\.public\.registry: credentials in a registry name are not supported; use docker login 127\.0\.0\.1:35001/],
    [`hubs: { docker: { public: { registry: 'Bad Registry!', namespace: 'demo' } } }`, /hubs\.docker\.public\.registry: expected a registry host\[:port\] like docker\.io or registry\.example\.org:5000, got "Bad Registry!"/],
  ]
  for (const [config, message] of cases) {
    writeFileSync(file, `export default { ${config} }\n`)
    const error = await loadConfig({ configFile: file }).then(
      () => undefined,
      (e: Error) => e,
    )
    t.type(error, UserError, config.replace('Sekr1tPW', '***'))
    t.match(error?.message, message)
    t.notMatch(error?.message ?? '', /Sekr1tPW/, 'no password in the message')
  }
  for (const ok of [`registry: 'docker.io'`, `registry: 'localhost:5000'`, `registry: '[::1]:5000'`]) {
    writeFileSync(file, `export default { hubs: { docker: { public: { ${ok}, namespace: 'demo' } }, singularity: { upload: 'oras://127.0.0.1:5000/a/b' } } }\n`)
    await t.resolves(loadConfig({ configFile: file }), ok)
  }
})

t.test('a duplicate release component is named', async (t) => {
  const home = isolate(t)
  const file = join(home, 'dup.config.ts')
  const c = (name: string) => `{ project: 'p', name: '${name}', url: 'https://x/${name}.git' }`
  writeFileSync(file, `export default { releasePlan: { components: [${c('a')}, ${c('b')}, ${c('a')}] } }\n`)
  await t.rejects(loadConfig({ configFile: file }), { constructor: UserError, message: `${file}: releasePlan.components[2].name: component "a" is already releasePlan.components[0]: names must be unique` })
})

t.test('a missing required key says missing', async (t) => {
  const home = isolate(t)
  const file = join(home, 'missing.config.ts')
  writeFileSync(file, `export default { releasePlan: { components: [{ project: 'p', name: 'c' }] } }\n`)
  await t.rejects(loadConfig({ configFile: file }), { constructor: UserError, message: `${file}: releasePlan.components[0].url: missing (expected a string)` })
})

t.test('a config function that throws is one line naming the file', async (t) => {
  const home = isolate(t)
  const file = join(home, 'throws.config.ts')
  writeFileSync(file, `export default () => { throw new Error('set CASA_SITE first') }\n`)
  await t.rejects(loadConfig({ configFile: file }), { constructor: UserError, message: `${file}: set CASA_SITE first` })
})

t.test('a JavaScript config that does not load is one line naming the file and the line', async (t) => {
  const home = isolate(t)
  // (.js configs through the real CLI in cli.test.ts: tap's loader hooks change how .js imports)
  for (const ext of ['mjs']) {
    // a module that failed to load stays failed in Node's cache: one file per case
    const file = join(home, `syn.config.${ext}`)
    writeFileSync(file, `export default {\n  jobs: 2,,\n}\n`)
    await t.rejects(loadConfig({ configFile: file }), { constructor: UserError, message: `${file}:2: Unexpected token ','` }, `${ext}: syntax error`)
    const thrower = join(home, `throw.config.${ext}`)
    writeFileSync(thrower, `const site = 'x'\nthrow new Error('set CASA_SITE first')\nexport default {}\n`)
    await t.rejects(loadConfig({ configFile: thrower }), { constructor: UserError, message: `${thrower}:2: set CASA_SITE first` }, `${ext}: top-level throw`)
  }
  const file = join(home, 'str.config.mjs')
  writeFileSync(file, `throw 'boom'\nexport default {}\n`)
  await t.rejects(loadConfig({ configFile: file }), { constructor: UserError, message: `${file}: boom` }, 'a thrown string')
})

t.test('a TypeScript config that throws something other than an Error is one line too', async (t) => {
  const home = isolate(t)
  for (const [thrown, shown] of [["'boom'", 'boom'], ['{ code: 7 }', '{ code: 7 }'], ['undefined', 'undefined']]) {
    const file = join(home, 'boom.config.ts')
    writeFileSync(file, `throw ${thrown}\nexport default {}\n`)
    await t.rejects(loadConfig({ configFile: file }), { constructor: UserError, message: `${file}: ${shown}` }, `throw ${thrown}`)
  }
})

t.test('the compiled config is cached until the config or a file it imports changes', async (t) => {
  const home = isolate(t)
  const savedCache = process.env.XDG_CACHE_HOME
  process.env.XDG_CACHE_HOME = join(home, 'cache')
  t.teardown(() => {
    if (savedCache === undefined) delete process.env.XDG_CACHE_HOME
    else process.env.XDG_CACHE_HOME = savedCache
  })
  const file = join(home, 'casa.config.ts')
  const imported = join(home, 'site.ts')
  writeFileSync(imported, `export const jobs = 2\n`)
  writeFileSync(file, `import { jobs } from './site.js'\nexport default { jobs }\n`)
  t.equal((await loadConfig({ configFile: file })).jobs, 2)

  const cacheDir = join(home, 'cache', 'casa-distro-admin', 'config')
  const entries = readdirSync(cacheDir)
  t.equal(entries.length, 1, 'one cache entry written')
  // Rewriting the cached code proves the second load reads the cache instead of bundling.
  const entryFile = join(cacheDir, entries[0]!)
  const entry = JSON.parse(readFileSync(entryFile, 'utf8')) as { inputs: { path: string }[]; code: string }
  t.same(entry.inputs.map((input) => input.path).sort(), [file, imported].sort(), 'the config and its import are recorded')
  writeFileSync(entryFile, JSON.stringify({ ...entry, code: entry.code.replace(/jobs = 2/, 'jobs = 5') }))
  t.equal((await loadConfig({ configFile: file })).jobs, 5, 'second load uses the cache')

  writeFileSync(imported, `export const jobs = 3\n`)
  t.equal((await loadConfig({ configFile: file })).jobs, 3, 'an edited import invalidates the entry')
  writeFileSync(file, `import { jobs } from './site.js'\nexport default { jobs: jobs + 1 }\n`)
  t.equal((await loadConfig({ configFile: file })).jobs, 4, 'an edited config invalidates the entry')
})
