// The container calls of a SIF conversion go to the engine's API on its local socket, and
// through the docker CLI in any other setup (lib/docker/dockerEngine.ts, lib/docker/docker.ts). With the
// real engine: when each way is chosen, and both ways give the same answers and the same
// errors (a docker context pointing at the same socket makes the CLI way testable here).
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createContainer, exportContainer, inspectImage, listLocalImages, removeContainer } from '../lib/docker/docker.js'
import { localEngineSocket } from '../lib/docker/dockerEngine.js'
import { ensureBusyboxImage } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

const base = ensureBusyboxImage()
const socket = '/var/run/docker.sock'

t.test('the API is used only where the CLI would use the same local socket', async (t) => {
  const dir = tempDir(t, 'casa-engine-')
  const noConfig = join(dir, 'none')
  t.equal(localEngineSocket(undefined, { DOCKER_CONFIG: noConfig }), socket, 'nothing set: the default socket')
  t.equal(localEngineSocket(`unix://${socket}`, { DOCKER_CONFIG: noConfig }), socket, 'config docker.host unix://')
  t.equal(localEngineSocket(undefined, { DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: noConfig }), socket, 'DOCKER_HOST unix://')
  t.equal(localEngineSocket('tcp://127.0.0.1:2375', { DOCKER_CONFIG: noConfig }), undefined, 'a tcp engine: the CLI')
  t.equal(localEngineSocket(undefined, { DOCKER_HOST: 'ssh://builder', DOCKER_CONFIG: noConfig }), undefined, 'an ssh engine: the CLI')
  t.equal(localEngineSocket(undefined, { DOCKER_HOST: `unix://${dir}/no.sock`, DOCKER_CONFIG: noConfig }), undefined, 'no such socket: the CLI says why')
  t.equal(localEngineSocket(undefined, { DOCKER_CONTEXT: 'remote', DOCKER_CONFIG: noConfig }), undefined, 'DOCKER_CONTEXT: the CLI')
  t.equal(localEngineSocket(undefined, { DOCKER_CONTEXT: 'default', DOCKER_CONFIG: noConfig }), socket, 'the default context')
  const withContext = join(dir, 'with-context')
  mkdirSync(withContext)
  writeFileSync(join(withContext, 'config.json'), JSON.stringify({ currentContext: 'remote' }))
  t.equal(localEngineSocket(undefined, { DOCKER_CONFIG: withContext }), undefined, '`docker context use` in the CLI configuration: the CLI')
  t.equal(localEngineSocket('tcp://127.0.0.1:2375', { DOCKER_HOST: `unix://${socket}` }), undefined, 'config docker.host wins over DOCKER_HOST')
  // The CLI takes DOCKER_CONTEXT over the context in use, "default" included.
  t.equal(localEngineSocket(undefined, { DOCKER_CONTEXT: 'default', DOCKER_CONFIG: withContext }), socket, 'DOCKER_CONTEXT=default wins over `docker context use`')
  t.equal(localEngineSocket(undefined, { DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: withContext }), socket, 'DOCKER_HOST wins over `docker context use`')
})

/** Run `work` with the docker calls going through the CLI (a context on the same socket). */
async function throughCli<T>(t: { equal(a: unknown, b: unknown, m: string): void; teardown(fn: () => void): void }, work: () => Promise<T>): Promise<T> {
  const config = tempDir(t, 'casa-engine-cli-')
  const env = { ...process.env, DOCKER_CONFIG: config }
  execFileSync('docker', ['context', 'create', 'casa-test', '--docker', `host=unix://${socket}`], { env, stdio: 'ignore' })
  const saved = { config: process.env.DOCKER_CONFIG, context: process.env.DOCKER_CONTEXT }
  process.env.DOCKER_CONFIG = config
  process.env.DOCKER_CONTEXT = 'casa-test'
  try {
    t.equal(localEngineSocket(undefined), undefined, 'the context sends every call to the CLI')
    return await work()
  } finally {
    for (const [name, value] of [['DOCKER_CONFIG', saved.config], ['DOCKER_CONTEXT', saved.context]] as const) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}

/** Everything the engine and the CLI are asked in a conversion, as plain data. */
async function answers() {
  const images = (await listLocalImages()).filter((i) => i.repository === base.split(':')[0]).map((i) => `${i.repository}:${i.tag} ${i.id}`)
  const info = await inspectImage(base)
  const container = await createContainer(base, '/.casa-distro-export-only')
  const drain = async () => {
    const exported = await exportContainer(container)
    let bytes = 0
    await pipeline(exported.stream, new Writable({ write: (chunk: Buffer, _e, done) => ((bytes += chunk.length), done()) }))
    return { bytes, failure: await exported.done }
  }
  const { bytes, failure: complete } = await drain()
  await removeContainer(container)
  const gone = await drain()
  gone.failure = gone.failure?.replace(container, '<id>')
  return { images, id: info?.Id, env: info?.Config.Env, absent: await inspectImage('casa-test-base/absent:1'), bytes, complete, gone }
}

t.test('API and CLI give the same answers and the same errors', async (t) => {
  t.equal(localEngineSocket(undefined), socket, 'this machine: the API by default')
  const api = await answers()
  const cli = await throughCli(t, answers)
  t.same(api, cli)
  t.equal(api.images.length, 1, `${base} listed`)
  t.match(api.id, /^sha256:[0-9a-f]{64}$/)
  t.equal(api.absent, undefined, 'an absent image is undefined, not an error')
  t.ok(api.bytes > 1_000_000, `the export came (${api.bytes} bytes: busybox and the tar headers)`)
  t.equal(api.complete, undefined, 'and came whole')
  t.equal(api.gone.bytes, 0)
  t.match(api.gone.failure, /^Error response from daemon: No such container: <id>$/, 'a removed container: the engine\'s message, as the CLI says it')
  await t.rejects(createContainer('casa-test-base/absent:1', '/x'), /^docker create failed \(exit 1\): Error response from daemon: No such image: casa-test-base\/absent:1/)
})
