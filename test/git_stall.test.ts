// A git server that takes the connection and then says nothing (issue 22, "no endless wait"):
// git has no bound of its own, so create_release_plan would wait for ever. Over http(s) the
// transfer ends after CASA_GIT_TIMEOUT seconds below 1 byte/s, the component's line names the
// server, and the run goes on with the others. The silent server is a real listening socket of
// this test that reads and never writes.
import t from 'tap'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { parse } from 'yaml'
import { runCli } from './helpers/cli.js'
import { cmakeVersion, TestRemote } from './helpers/git.js'
import { tempDir } from './helpers/tmp.js'
import { gitEnv, gitTimeoutSeconds } from '../lib/git/gitMirror.js'

t.test('a silent git server over http: the component fails in one line after CASA_GIT_TIMEOUT, the others are planned', async (t) => {
  const held = new Set<Socket>()
  const server = createServer((socket) => (held.add(socket), socket.resume(), socket.on('error', () => {})))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of held) socket.destroy()
    server.close()
  })
  const port = (server.address() as { port: number }).port
  const dir = tempDir(t, 'casa-git-stall-')
  const home = join(dir, '.home')
  mkdirSync(home)
  const remote = new TestRemote(dir, 'good')
  remote.commit('master', { 'project_info.cmake': cmakeVersion('1.0.0') })
  const silent = `http://127.0.0.1:${port}/silent.git`
  writeFileSync(join(dir, 'casa.config.ts'), `export default { releasePlan: { components: [{ project: 'p', name: 'silent', url: '${silent}' }, { project: 'p', name: 'good', url: '${remote.url}' }] } }\n`)
  const r = await runCli(['-r', dir, 'create_release_plan'], { env: { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts'), CASA_GIT_TIMEOUT: '2' } })
  t.equal(r.code, 0, r.stderr)
  t.match(r.stderr, new RegExp(`p/silent: cannot read ${silent.replace(/[.]/g, '\\.')}.*too slow`), 'the component names the server and why')
  t.notMatch(r.stderr, /internal error|\n\s+at /)
  const plan = parse(readFileSync(join(dir, 'release_plan.yaml'), 'utf8'))
  t.match(JSON.stringify(plan), /too slow/, "the plan holds the component's error")
  t.match(JSON.stringify(plan), /"good"|good/, 'the other component is planned')
})

t.test('CASA_GIT_TIMEOUT sets the bound; git\'s own variables and GIT_SSH_COMMAND win when set', async (t) => {
  t.equal(gitTimeoutSeconds({}), 60)
  t.throws(() => gitTimeoutSeconds({ CASA_GIT_TIMEOUT: 'never' }), /CASA_GIT_TIMEOUT=never/)
  const saved = { ...process.env }
  t.teardown(() => {
    for (const k of ['CASA_GIT_TIMEOUT', 'GIT_HTTP_LOW_SPEED_TIME', 'GIT_SSH_COMMAND']) {
      if (saved[k] === undefined) delete process.env[k]
      else process.env[k] = saved[k]
    }
  })
  delete process.env.GIT_HTTP_LOW_SPEED_TIME
  delete process.env.GIT_SSH_COMMAND
  process.env.CASA_GIT_TIMEOUT = '20'
  t.equal(gitEnv().GIT_HTTP_LOW_SPEED_TIME, '20')
  t.match(gitEnv().GIT_SSH_COMMAND, /ServerAliveInterval=5 -o ServerAliveCountMax=4/)
  process.env.GIT_HTTP_LOW_SPEED_TIME = '7'
  process.env.GIT_SSH_COMMAND = 'ssh -i mykey'
  t.equal(gitEnv().GIT_HTTP_LOW_SPEED_TIME, '7')
  t.equal(gitEnv().GIT_SSH_COMMAND, 'ssh -i mykey')
})
