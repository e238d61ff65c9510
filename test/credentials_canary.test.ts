// A canary secret in every URL-bearing key of the config, and every task run with it (with and
// without -v, succeeding and failing): the canary never shows in stdout/stderr, never on a
// command line of the run's processes (sampled from /proc while each run goes, and at the very
// moment one of them connects to a test server, when its client is certainly alive), and never
// in a file others can read. Keys whose credentials cannot be kept secret (a password in an
// sftp://, oras:// or ssh:// URL) are refused in one line that does not repeat it; the others
// still authenticate (the download URL's server checks the Basic credentials).
// Everything is real: the tool's CLI, docker (a busybox image), git, file hubs, an HTTP server.
import t, { type Test } from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { dirname, join, relative } from 'node:path'
import { projectRoot } from './helpers/cli.js'
import { activeSamplers, runCliWatched } from './helpers/processTree.js'
import { ensureBusyboxImage } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

const canary = `CANARY${randomBytes(6).toString('hex')}`
const namespace = `casa-canary-${process.pid}`
const image = `${namespace}/small:1.0`
execFileSync('docker', ['tag', ensureBusyboxImage(), image])
t.teardown(() => {
  spawnSync('docker', ['image', 'rm', image])
})

const dir = tempDir(t, 'casa-canary-')
const home = join(dir, 'home')
const tmp = join(dir, 'tmp')
const hubs = join(dir, 'hubs')
const emptyDefinitions = join(dir, 'definitions')
for (const d of [home, tmp, hubs, emptyDefinitions, join(hubs, 'sif')]) mkdirSync(d, { recursive: true })

const sampleAll = () => {
  for (const sampler of activeSamplers) sampler.sample()
}

// A port where a client connects and is dropped: git, ssh and fetch get an error, and the
// command lines of the run are read while the client is connected.
const dead = createServer((socket) => {
  sampleAll()
  socket.destroy()
})
await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise<void>((resolve) => dead.close(() => resolve())))
const deadPort = (dead.address() as AddressInfo).port

// The download URL of the singularity hub: serves the file hub, only with the canary's Basic credentials.
const expectedAuthorization = `Basic ${Buffer.from(`reader:${canary}`).toString('base64')}`
let authorizedRequests = 0
const download = createHttpServer((request, response) => {
  sampleAll()
  if (request.headers.authorization !== expectedAuthorization) return void response.writeHead(401).end()
  authorizedRequests++
  const file = join(hubs, 'sif', decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname).replace(/^\/+/, ''))
  if (relative(join(hubs, 'sif'), file).startsWith('..') || !existsSync(file)) return void response.writeHead(404).end()
  response.writeHead(200, { 'content-length': statSync(file).size })
  createReadStream(file).pipe(response)
})
await new Promise<void>((resolve) => download.listen(0, '127.0.0.1', resolve))
t.teardown(() => new Promise<void>((resolve) => download.close(() => resolve())))
const downloadPort = (download.address() as AddressInfo).port

const fileHub = (name: string) => `file://${join(hubs, name)}`
const base = {
  namespace,
  imageSearchPath: [emptyDefinitions],
  hubs: {
    docker: { public: { registry: `127.0.0.1:${deadPort}`, namespace: 'canary' } },
    singularity: { upload: fileHub('sif'), download: `http://reader:${canary}@127.0.0.1:${downloadPort}/` },
    casaDistro: { upload: fileHub('distro') },
    buildWorkflows: { upload: fileHub('workflows') },
    releasePlan: { upload: fileHub('plans') },
  },
  releasePlan: {
    components: [
      { project: 'p', name: 'pw', url: `http://user:${canary}@127.0.0.1:${deadPort}/x.git` },
      { project: 'p', name: 'token', url: `https://${canary}@127.0.0.1:${deadPort}/y.git` },
    ],
  },
}

/** Variants of the config: each puts the canary in other keys. */
const accepted: Record<string, object> = {
  'http(s) download and component URLs': base,
  'download URL that does not answer': { ...base, hubs: { ...base.hubs, singularity: { ...base.hubs.singularity, download: `http://reader:${canary}@127.0.0.1:${deadPort}/` } } },
  'docker.host': { ...base, docker: { host: `tcp://user:${canary}@127.0.0.1:${deadPort}` } },
}
const sftp = `sftp://user:${canary}@127.0.0.1:${deadPort}/~/hub`
const refused: Record<string, object> = {
  'hubs.singularity.upload sftp': { ...base, hubs: { ...base.hubs, singularity: { upload: sftp } } },
  'hubs.singularity.upload oras': { ...base, hubs: { ...base.hubs, singularity: { upload: `oras://user:${canary}@127.0.0.1:${deadPort}/ns` } } },
  'hubs.singularity.oras': { ...base, hubs: { ...base.hubs, singularity: { ...base.hubs.singularity, oras: `oras://user:${canary}@127.0.0.1:${deadPort}/ns` } } },
  'hubs.casaDistro.upload': { ...base, hubs: { ...base.hubs, casaDistro: { upload: sftp } } },
  'hubs.buildWorkflows.upload': { ...base, hubs: { ...base.hubs, buildWorkflows: { upload: sftp } } },
  'hubs.releasePlan.upload': { ...base, hubs: { ...base.hubs, releasePlan: { upload: sftp } } },
  'ssh:// component URL': { ...base, releasePlan: { components: [{ project: 'p', name: 'ssh', url: `ssh://user:${canary}@127.0.0.1:${deadPort}/x.git` }] } },
  'git:// component URL': { ...base, releasePlan: { components: [{ project: 'p', name: 'git', url: `git://user:${canary}@127.0.0.1:${deadPort}/x.git` }] } },
}

// Every task of the tool, from the sources: a task added later is run here too.
const tasks = readdirSync(join(projectRoot, 'tasks'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3))
  .sort()
const sif = join(dir, 'repository', `${namespace}_small_1.0.sif`)
const argsOf: Record<string, string[]> = {
  create_singularity: [`${namespace}/*`],
  publish_singularity: [`${namespace}/*`],
  inspect_singularity: [sif],
  // a zip is made once, with -v (it costs a bundle); the run without -v checks its dry run
  package_casa_distro: [],
}

const configFile = join(dir, 'repository', 'casa.config.ts')
mkdirSync(dirname(configFile), { recursive: true })
const env = { HOME: home, TMPDIR: tmp, CASA_CONFIG: configFile, DOCKER_CONFIG: join(home, '.docker'), XDG_CACHE_HOME: undefined }

async function run(t: Test, words: string[]) {
  const r = await runCliWatched(['-r', join(dir, 'repository'), ...words], env)
  const label = words.join(' ')
  t.notMatch(r.stdout + r.stderr, canary, `${label}: not in the output`)
  const exposed = r.commandLines.filter((line) => line.includes(canary))
  t.same(exposed, [], `${label}: not on a command line (${r.commandLines.length} seen)`)
  t.notMatch(r.stderr, /internal error/, `${label}: no internal error`)
  return r
}

/** Files holding the canary that someone else could read: none outside casa.config.ts and 0600 caches in 0700 directories. */
function exposedFiles(): string[] {
  const found: string[] = []
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name)
      if (entry.isDirectory()) walk(path)
      else if (entry.isFile() && path !== configFile && readFileSync(path).includes(canary)) {
        const privateFile = (statSync(path).mode & 0o077) === 0 && (statSync(dirname(path)).mode & 0o077) === 0
        if (!privateFile) found.push(`${relative(dir, path)} (mode ${(statSync(path).mode & 0o777).toString(8)}, directory ${(statSync(dirname(path)).mode & 0o777).toString(8)})`)
      }
    }
  }
  walk(dir)
  return found
}

t.test('accepted keys: every task, with and without -v, keeps the canary secret', async (t) => {
  for (const [name, config] of Object.entries(accepted)) {
    writeFileSync(configFile, `export default ${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 })
    // the first variant in both modes; the failing ones with -v, which prints all the other mode does and more
    for (const verbose of name === 'http(s) download and component URLs' ? [true, false] : [true]) {
      for (const task of tasks) {
        const words = [...(verbose ? ['-v'] : []), task, ...(argsOf[task] ?? [])]
        if (task === 'package_casa_distro' && !verbose) words.push('dry_run=1')
        if (task === 'package_casa_distro' && name !== 'http(s) download and component URLs') words.push('dry_run=1')
        await t.test(`${name}: ${words.join(' ')}`, async (t) => {
          const r = await run(t, words)
          if (name === 'http(s) download and component URLs') {
            if (task === 'create_singularity') t.equal(r.code, 0, r.stderr)
            if (task === 'publish_singularity') {
              t.equal(r.code, 0, r.stderr)
              // the second run finds the md5 at the download URL: the credentials were sent
              t.match(r.stderr, verbose ? /uploaded to/ : /up to date on/)
            }
          }
          if (name === 'download URL that does not answer' && task === 'publish_singularity') {
            t.not(r.code, 0)
            t.match(r.stderr, new RegExp(`cannot read http://127\\.0\\.0\\.1:${deadPort}/`))
          }
        })
      }
    }
  }
  t.ok(authorizedRequests > 0, 'the download server was asked with the credentials')
  t.same(exposedFiles(), [], 'no file others can read holds the canary')
})

t.test('keys whose credentials cannot be kept secret are refused in one line, by every task', async (t) => {
  for (const [name, config] of Object.entries(refused)) {
    writeFileSync(configFile, `export default ${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 })
    // The refusal comes when the config is loaded, before any task's own work: every task is
    // run with one of the variants, two tasks (one per mode) with each of the others.
    const some = name === 'ssh:// component URL' ? tasks : ['show_config', 'create_release_plan']
    for (const [i, task] of some.entries()) {
      const words = [...(i % 2 === 0 ? ['-v'] : []), task, ...(argsOf[task] ?? [])]
      if (task === 'package_casa_distro') words.push('dry_run=1')
      await t.test(`${name}: ${words.join(' ')}`, async (t) => {
        const r = await run(t, words)
        t.equal(r.code, 1, 'a failure')
        const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'))
        t.equal(errors.length, 1, `one error line: ${r.stderr}`)
        t.match(errors[0], /not supported|credentials/)
      })
    }
  }
  t.same(exposedFiles(), [], 'no file others can read holds the canary')
})
