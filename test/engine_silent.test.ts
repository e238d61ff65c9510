// A Docker engine that takes the connection and never answers (issue 22, "no endless wait"):
// every image task ends with one line naming the engine after CASA_DOCKER_TIMEOUT seconds,
// whether it talks to the engine's socket (the API) or through the docker CLI (a tcp://
// address). The silent engine is a real listening socket of this test that accepts and reads
// but never writes: nothing else plays a stuck dockerd. No Docker engine is needed.
import t, { type Test } from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { exportContainer, inspectImage, listLocalImages, useDockerEngine } from '../lib/docker/docker.js'
import { EngineSilentError, dockerTimeoutSeconds, resetEngineWatch } from '../lib/docker/engineWatch.js'

/** A server that accepts connections, reads what comes and answers nothing. */
async function silentServer(t: Test, listenOn: string | number): Promise<{ server: Server; connections: () => number }> {
  const sockets = new Set<Socket>()
  let count = 0
  const server = createServer((socket) => {
    count++
    sockets.add(socket)
    socket.resume()
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(listenOn as never, resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return { server, connections: () => count }
}

function repository(t: Test): { dir: string; env: Record<string, string> } {
  const dir = tempDir(t, 'casa-silent-engine-')
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), 'export default {}\n')
  return { dir, env: { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts'), CASA_DOCKER_TIMEOUT: '1' } }
}

function oneLine(t: Test, run: { code: number; stderr: string }, where: string, task: string) {
  t.equal(run.code, 1, `${task}: exit 1: ${run.stderr}`)
  const lines = run.stderr.trim().split('\n').filter((l) => !/^\d\d:\d\d:\d\d /.test(l))
  t.equal(lines.length, 1, `${task}: one line: ${run.stderr}`)
  t.equal(lines[0], `error: the Docker engine at ${where} took the connection but did not answer in 1 s: check dockerd (CASA_DOCKER_TIMEOUT=<seconds> to wait longer)`, task)
}

const tasks = [['list_images'], ['update_docker'], ['create_docker'], ['publish_docker'], ['create_singularity'], ['create_singularity', '--dry-run'], ['publish_singularity', '--dry-run']]

t.test('a silent engine on a unix socket (the API and the CLI): one line per task, exit 1', async (t) => {
  const { dir, env } = repository(t)
  const socket = join(dir, 'docker.sock')
  const silent = await silentServer(t, socket)
  for (const args of tasks) oneLine(t, await runCli(['-r', dir, ...args], { env: { ...env, DOCKER_HOST: `unix://${socket}` } }), `unix://${socket}`, args.join(' '))
  t.ok(silent.connections() > 0, 'the tasks did connect to it')
})

t.test('a silent engine at a tcp:// address (the CLI only): one line per task, exit 1', async (t) => {
  const { dir, env } = repository(t)
  const silent = await silentServer(t, 0)
  const port = (silent.server.address() as { port: number }).port
  const where = `tcp://127.0.0.1:${port}`
  for (const args of tasks) oneLine(t, await runCli(['-r', dir, ...args], { env: { ...env, DOCKER_HOST: where } }), where, args.join(' '))
})

t.test('the library calls of a conversion end too, and leave nothing waiting', async (t) => {
  const dir = tempDir(t, 'casa-silent-api-')
  const socket = join(dir, 'docker.sock')
  await silentServer(t, socket)
  const saved = process.env.CASA_DOCKER_TIMEOUT
  process.env.CASA_DOCKER_TIMEOUT = '0.5'
  t.teardown(() => {
    if (saved === undefined) delete process.env.CASA_DOCKER_TIMEOUT
    else process.env.CASA_DOCKER_TIMEOUT = saved
    useDockerEngine({})
    resetEngineWatch()
  })
  resetEngineWatch()
  useDockerEngine({ host: `unix://${socket}` })
  await t.rejects(inspectImage('busybox:latest'), EngineSilentError)
  await t.rejects(listLocalImages(), EngineSilentError)
  await t.rejects(exportContainer('c0ffee'), EngineSilentError)
})

t.test('CASA_DOCKER_TIMEOUT: seconds above 0, a day at most', async (t) => {
  t.equal(dockerTimeoutSeconds({}), 60)
  t.equal(dockerTimeoutSeconds({ CASA_DOCKER_TIMEOUT: '2.5' }), 2.5)
  t.throws(() => dockerTimeoutSeconds({ CASA_DOCKER_TIMEOUT: 'soon' }), /CASA_DOCKER_TIMEOUT=soon: expected a number of seconds/)
  t.throws(() => dockerTimeoutSeconds({ CASA_DOCKER_TIMEOUT: '0' }), /above 0/)
})
