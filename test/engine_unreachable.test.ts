// Every image task that needs the Docker engine says, in one line, that none answers and
// where it looked, when DOCKER_HOST (or config docker.host) points at nothing: a socket path
// that does not exist (the docker CLI is asked) and a file that is no listening socket (the
// engine API is asked directly). No engine is needed for this test.
import t, { type Test } from 'tap'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli, runProgram } from './helpers/cli.js'
import { freePort } from './helpers/net.js'
import { tempDir } from './helpers/tmp.js'

function repository(t: Test, config = '{}'): { dir: string; env: Record<string, string> } {
  const dir = tempDir(t, 'casa-no-engine-')
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), `export default ${config}\n`)
  return { dir, env: { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts') } }
}

function oneLine(t: Test, run: { code: number; stderr: string }, pattern: RegExp) {
  t.equal(run.code, 1, run.stderr)
  const lines = run.stderr.trim().split('\n').filter((l) => !/^\d\d:\d\d:\d\d /.test(l))
  t.equal(lines.length, 1, `one line: ${run.stderr}`)
  t.match(lines[0], pattern)
  t.notMatch(run.stderr, /internal error|    at /)
}

const tasks = [['create_singularity'], ['create_singularity', '--dry-run'], ['publish_singularity'], ['publish_singularity', '--dry-run'], ['create_docker'], ['publish_docker'], ['publish_docker', '--dry-run'], ['list_images'], ['update_docker']]

t.test('DOCKER_HOST names a socket that does not exist: the docker CLI is asked', async (t) => {
  const { dir, env } = repository(t)
  const where = `unix://${dir}/nonexistent.sock`
  for (const args of tasks) {
    const run = await runCli(['-r', dir, ...args], { env: { ...env, DOCKER_HOST: where } })
    oneLine(t, run, new RegExp(`^error: no Docker engine answers at ${where}: start dockerd \\(or set DOCKER_HOST\\)$`))
  }
})

t.test('DOCKER_HOST names a file nobody listens on: the engine API is asked', async (t) => {
  const { dir, env } = repository(t)
  const stale = join(dir, 'stale.sock')
  writeFileSync(stale, '')
  for (const args of [['create_singularity'], ['publish_singularity']]) {
    const run = await runCli(['-r', dir, ...args], { env: { ...env, DOCKER_HOST: `unix://${stale}` } })
    oneLine(t, run, new RegExp(`^error: no Docker engine answers at unix://${stale}: start dockerd \\(or set DOCKER_HOST\\)$`))
  }
})

t.test('config docker.host names nothing: the message says to change it', async (t) => {
  const { dir, env } = repository(t, `{ docker: { host: 'unix:///nonexistent/docker.sock' } }`)
  const run = await runCli(['-r', dir, 'create_singularity'], { env })
  oneLine(t, run, /^error: no Docker engine answers at unix:\/\/\/nonexistent\/docker\.sock: start dockerd \(or change docker\.host in the configuration\)$/)
})

t.test('a password in DOCKER_HOST or docker.host is never printed', async (t) => {
  // Docker refuses ssh:// passwords and ignores tcp:// ones, without repeating them; the
  // messages saying what went wrong with the engine must not repeat them either.
  for (const where of ['ssh://bob:s3cret-pw@127.0.0.1:1', 'tcp://bob:s3cret-pw@127.0.0.1:1']) {
    const fromEnv = repository(t)
    const fromConfig = repository(t, `{ docker: { host: '${where}' } }`)
    for (const args of tasks) {
      for (const { dir, env } of [
        { dir: fromEnv.dir, env: { ...fromEnv.env, DOCKER_HOST: where } },
        { dir: fromConfig.dir, env: fromConfig.env },
      ]) {
        const run = await runCli(['-v', '-r', dir, ...args], { env })
        t.equal(run.code, 1, `${args.join(' ')}: ${run.stderr}`)
        t.notMatch(run.stdout + run.stderr, 's3cret-pw', `${where}, ${args.join(' ')}: the password is not printed`)
      }
    }
  }
})

t.test('DOCKER_CONTEXT names no context: one line saying so, never a plan of images "not built"', async (t) => {
  // The CLI cannot even start ("Failed to initialize"); an inspection that fails so must not
  // read as images absent (publish_docker --dry-run then listed every tag as a push that fails).
  const { dir, env } = repository(t)
  for (const args of tasks) {
    const run = await runCli(['-r', dir, ...args], { env: { ...env, DOCKER_CONTEXT: 'casa-no-such-context' } })
    oneLine(t, run, /^error: no Docker engine answers at docker context casa-no-such-context: Failed to initialize: .*context "casa-no-such-context": context not found/)
    t.notMatch(run.stdout, /not built/, `${args.join(' ')}: no image said to be not built`)
    t.notMatch(run.stderr, /docker\.sock/, `${args.join(' ')}: the default socket is not where docker looked`)
  }
})

t.test('a context chosen with `docker context use`: the message names it, not the default socket', async (t) => {
  // `docker context use` stores the choice as currentContext in $DOCKER_CONFIG/config.json,
  // where the CLI takes the address from when neither DOCKER_HOST nor DOCKER_CONTEXT is set.
  const { dir, env } = repository(t)
  const dockerConfig = join(dir, '.docker')
  const cli = (...args: string[]) => runProgram('docker', args, { env: { DOCKER_CONFIG: dockerConfig, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined } })
  // Nothing listens on these ports: ssh cannot connect ("error during connect"), nor can tcp.
  for (const [name, scheme] of [['casa-used-ssh', 'ssh'], ['casa-used-tcp', 'tcp'], ['casa-other', 'ssh']] as const) {
    const created = await cli('context', 'create', name, '--docker', `host=${scheme}://127.0.0.1:${await freePort()}`)
    t.equal(created.code, 0, created.stderr)
  }
  const contextEnv = { ...env, DOCKER_CONFIG: dockerConfig, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined }
  for (const name of ['casa-used-ssh', 'casa-used-tcp']) {
    t.equal((await cli('context', 'use', name)).code, 0)
    for (const args of tasks) {
      const run = await runCli(['-r', dir, ...args], { env: contextEnv })
      oneLine(t, run, new RegExp(`^error: no Docker engine answers at (docker context ${name}|tcp://127\\.0\\.0\\.1:\\d+): `))
      t.notMatch(run.stderr, /docker\.sock/, `${name}, ${args.join(' ')}: the default socket is not where docker looked`)
    }
  }
  t.equal((await cli('context', 'use', 'casa-used-ssh')).code, 0)
  // DOCKER_CONTEXT wins over the context in use, and DOCKER_HOST over both.
  const run = await runCli(['-r', dir, 'list_images'], { env: { ...contextEnv, DOCKER_CONTEXT: 'casa-other' } })
  oneLine(t, run, /^error: no Docker engine answers at docker context casa-other: /)
  const socket = `unix://${dir}/nonexistent.sock`
  const viaHost = await runCli(['-r', dir, 'list_images'], { env: { ...contextEnv, DOCKER_HOST: socket } })
  oneLine(t, viaHost, new RegExp(`^error: no Docker engine answers at ${socket}: `))
})

t.test('DOCKER_CONFIG set to an empty string: ~/.docker, as for the CLI', async (t) => {
  // docker reads ~/.docker/config.json when DOCKER_CONFIG is empty (not ./config.json).
  const { dir, env } = repository(t)
  const home = env.HOME!
  const cli = (...args: string[]) => runProgram('docker', args, { env: { HOME: home, DOCKER_CONFIG: undefined, DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined } })
  const nothing = `unix://${dir}/nothing.sock`
  t.equal((await cli('context', 'create', 'casa-home', '--docker', `host=${nothing}`)).code, 0)
  t.equal((await cli('context', 'use', 'casa-home')).code, 0)
  // The context in use in ~/.docker: the CLI goes there, so the engine API on the default
  // socket must not be used instead (create_singularity lists images through it).
  for (const args of tasks) {
    const run = await runCli(['-r', dir, ...args], { env: { ...env, DOCKER_CONFIG: '', DOCKER_HOST: undefined, DOCKER_CONTEXT: undefined } })
    oneLine(t, run, new RegExp(`^error: no Docker engine answers at (docker context casa-home|${nothing}): `))
    t.notMatch(run.stderr, /docker\.sock/, `${args.join(' ')}: the default socket is not where docker looked`)
  }
})

t.test('DOCKER_HOST or docker.host set to an empty string is unset, as for the CLI', async (t) => {
  // The message names the context docker used, never an empty address ("answers at : ").
  const { dir, env } = repository(t)
  for (const args of tasks) {
    const run = await runCli(['-r', dir, ...args], { env: { ...env, DOCKER_HOST: '', DOCKER_CONTEXT: 'casa-no-such-context' } })
    oneLine(t, run, /^error: no Docker engine answers at docker context casa-no-such-context: Failed to initialize: /)
  }
  // An empty docker.host leaves DOCKER_HOST to the CLI (lib/docker/docker.ts dockerEnv): the engine
  // API on the default socket must not be used instead, nor the message name it.
  const emptyHost = repository(t, `{ docker: { host: '' } }`)
  const where = `unix://${emptyHost.dir}/nonexistent.sock`
  for (const args of tasks) {
    const run = await runCli(['-r', emptyHost.dir, ...args], { env: { ...emptyHost.env, DOCKER_HOST: where } })
    oneLine(t, run, new RegExp(`^error: no Docker engine answers at ${where}: start dockerd \\(or set DOCKER_HOST\\)$`))
  }
})
