// create_docker killed with SIGKILL while the engine runs a RUN step of the build, then run
// again: the re-run builds the image, and nothing the killed run made remains: no staged
// build context in its TMPDIR, no container of the build. A run alive meanwhile keeps its
// context. The real engine; the RUN step fetches a URL of the test's HTTP server (the build
// uses the host's network), which holds the killed run's request: its arrival is the event.
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { killTree, startCli, waitFor } from './helpers/killPoint.js'
import { ensureBusyboxImage } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const ns = `casa-test-kill-dkb`
const run = `r${process.pid}`
// A base of this test's only (its own image id): the build's containers are found by it.
const base = `${ns}/base:${run}`
{
  const context = tempDir(t, 'casa-kill-dkb-base-')
  writeFileSync(join(context, 'Dockerfile'), `FROM ${ensureBusyboxImage()}\nLABEL casa-test-kill=${run}\n`)
  sh('docker', ['build', '--network=host', '-q', '-t', base, context])
}
const containersOfBase = () => sh('docker', ['ps', '-a', '-q', '--filter', `ancestor=${base}`]).split('\n').filter(Boolean)

// The server the RUN step asks: it holds the requests while `holding`, answers the others.
let holding = true
const held: ServerResponse[] = []
const server = createServer((_request, response) => {
  if (holding) held.push(response)
  else response.end('fetched\n')
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const port = (server.address() as AddressInfo).port
t.teardown(() => {
  for (const response of held) response.destroy()
  server.close()
  for (const id of containersOfBase()) spawnSync('docker', ['rm', '-f', '-v', id])
  const refs = sh('docker', ['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}', `${ns}/*`]).split('\n').filter((r) => r.endsWith(run) || r.includes(`:${run}`))
  spawnSync('docker', ['image', 'rm', '-f', ...refs, base])
})

function repository(): { dir: string; tmp: string; env: Record<string, string> } {
  const dir = tempDir(t, 'casa-kill-dkb-repo-')
  const home = join(dir, '.home')
  const tmp = join(dir, '.tmp') // the run's own TMPDIR: what it leaves there is its own
  mkdirSync(home)
  mkdirSync(tmp)
  const def = join(dir, 'share', 'docker', 'fetch', 'bb')
  mkdirSync(def, { recursive: true })
  writeFileSync(join(def, 'casa_distro_docker.yaml'), `image_sources:\n  - name: fetch\n    tags: ["${run}"]\n`)
  writeFileSync(join(def, 'Dockerfile'), `FROM ${base}\nRUN wget -q -O /fetched http://127.0.0.1:${port}/\n`)
  writeFileSync(join(dir, 'casa.config.ts'), `export default { namespace: '${ns}', imageSearchPath: ['{repository}/share/docker'] }\n`)
  return { dir, tmp, env: { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts'), TMPDIR: tmp } }
}

t.test('killed during the build: the re-run builds, no build context nor container is left; a live run keeps its context', async (t) => {
  const repo = repository()
  holding = true
  const first = startCli(['-r', repo.dir, 'create_docker'], repo.env)
  await waitFor(first, 'the RUN step asked the server', () => held.length > 0)
  const contexts = readdirSync(repo.tmp)
  t.equal(contexts.length, 1, `the first run staged its build context (${contexts.join(', ')})`)

  // a second run while the first is alive: it builds (its request answered), and leaves the first's context
  holding = false
  const second = await runCli(['-r', repo.dir, 'create_docker', 'force=1'], { env: repo.env })
  t.equal(second.code, 0, second.stderr)
  t.ok(existsSync(join(repo.tmp, contexts[0]!)), "the live run's build context is kept")

  await killTree(first)
  t.ok(existsSync(join(repo.tmp, contexts[0]!)), "the killed run's build context is left (what the re-run must remove)")
  const again = await runCli(['-r', repo.dir, 'create_docker', 'force=1'], { env: repo.env })
  t.equal(again.code, 0, again.stderr)
  t.equal(sh('docker', ['run', '--rm', '--network=none', `${ns}/fetch:${run}`, 'cat', '/fetched']), 'fetched\n', 'the image is whole: its RUN step done')
  t.same(readdirSync(repo.tmp), [], 'no build context left in the TMPDIR')
  t.same(containersOfBase(), [], 'no container of the build left')
})
