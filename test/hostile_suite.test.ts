// The hostile-input suite: a careless user's and an attacker's inputs over the tasks, grouped
// by class (issue 22), each run through the real CLI. Every case must end with a non-zero
// exit and exactly one error line, no internal error, no secret in the output, and nothing
// left behind (no temporary name of ours in the repository). The counts are printed at the
// end; the README's reliability section quotes them. The deeper checks of each class are in
// their own files (credentials_canary, command_line_hostile, user_mistakes, config_deadline,
// bounded_inputs, release_rename_atomic, casa_distro_zip_check).
import t from 'tap'
import { mkdirSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

interface Case {
  words: string[]
  /** The user's casa.config.ts, or none. */
  config?: string
  env?: Record<string, string>
  /** Set the repository up before the run. */
  prepare?: (dir: string) => void
  /** 2 for a usage error, 1 for the others, 128 for a run ended by a signal. */
  exit?: number
}

const secret = 'HOSTILESECRET'

// A Docker engine that takes connections and never answers: a socket of this test that reads and says nothing.
const silentEngine = join(tempDir(t, 'casa-hostile-engine-'), 'docker.sock')
const held = new Set<Socket>()
const silentServer = createServer((socket) => (held.add(socket), socket.resume(), socket.on('error', () => {})))
await new Promise<void>((resolve) => silentServer.listen(silentEngine, resolve))
t.teardown(() => {
  for (const socket of held) socket.destroy()
  silentServer.close()
})
const silentDocker = { DOCKER_HOST: `unix://${silentEngine}`, CASA_DOCKER_TIMEOUT: '1' }
const classes: Record<string, Case[]> = {
  credentials: [
    { words: ['show_config'], config: `{ hubs: { singularity: { upload: 'sftp://u:${secret}@127.0.0.1:9/~/x' } } }` },
    { words: ['publish_casa_distro'], config: `{ hubs: { casaDistro: { upload: 'sftp://u:${secret}@h/~/x' } } }` },
    { words: ['publish_singularity'], config: `{ hubs: { singularity: { upload: 'oras://u:${secret}@127.0.0.1:9/ns' } } }` },
    { words: ['create_release_plan'], config: `{ releasePlan: { components: [{ project: 'p', name: 'a', url: 'ssh://u:${secret}@127.0.0.1:9/a.git' }] } }` },
    { words: ['update_release_plan'], config: `{ releasePlan: { components: [{ project: 'p', name: 'a', url: 'https://u:${secret}%0A@h/a.git' }] } }` },
    { words: ['create_release_plan'], config: `{ releasePlan: { components: [{ project: 'p', name: 'a', url: '--upload-pack=touch /tmp/x' }] } }` },
  ],
  'no endless wait': [
    // a loop holds the main thread: the watchdog writes the line and ends it with SIGTERM (runCli reports a signal as 128)
    { words: ['show_config'], config: `(() => { while (true) {} })()`, env: { CASA_CONFIG_TIMEOUT: '1' }, exit: 128 },
    { words: ['list_images'], config: `await new Promise(() => {})`, env: { CASA_CONFIG_TIMEOUT: '1' } },
    { words: ['list_images'], env: silentDocker },
    { words: ['create_singularity'], env: silentDocker },
  ],
  'user mistakes': [
    { words: ['show_config'], config: `{ get jobs() { throw new Error('getter') } }` },
    { words: ['show_config'], prepare: (dir) => symlinkSync(join(dir, 'gone.ts'), join(dir, 'casa.config.ts')) },
    { words: ['create_release_plan'], config: `{ releasePlan: { components: [{ project: 'p', name: 'a', url: 'file:///nonexistent/a.git' }] } }`, prepare: (dir) => writeFileSync(join(dir, '.release-plan-cache'), '') },
    { words: ['create_release_plan'], config: `{ releasePlan: { components: [{ project: 'p', name: 'a', url: 'file:///nonexistent/a.git' }] } }`, prepare: (dir) => mkdirSync(join(dir, 'release_plan.yaml')) },
    { words: ['inspect_singularity', '/'] },
    { words: ['inspect_singularity', '/dev/null'] },
    { words: ['publish_casa_distro', 'package_version=1.0.0'], prepare: (dir) => writeFileSync(join(dir, 'casa-distro-1.0.0.zip'), 'not a zip') },
    { words: ['show_config'], config: `{ jobs: 'many' }` },
  ],
  'bounded inputs': [
    { words: ['list_images'], config: `{ imageSearchPath: ['{repository}/defs'] }`, prepare: (dir) => { mkdirSync(join(dir, 'defs', 'x'), { recursive: true }); writeFileSync(join(dir, 'defs', 'x', 'casa_distro_docker.yaml'), `image_sources: []\n#${'x'.repeat(5 * 1024 * 1024)}\n`) } },
    { words: ['apply_release_plan'], prepare: (dir) => writeFileSync(join(dir, 'release_plan.yaml'), 'a: 1\na: 2\n') },
  ],
  'command line': [
    { words: ['show_config', '-r', 'a', '-r', 'b'], exit: 2 },
    { words: ['create_docker', 'jobs=2', '--jobs', '3'], exit: 2 },
    { words: ['publish_docker', 'jobs=0'], exit: 2 },
    { words: ['-r'], exit: 2 },
    { words: ['show_config', '--config'], exit: 2 },
    { words: ['help', 'nosuch'], exit: 2 },
    { words: ['nosuch'], exit: 2 },
    { words: ['list_images', '--nosuch'], exit: 2 },
    { words: ['create_docker', 'force=maybe'], exit: 2 },
    { words: ['show_config'], env: { CASA_CONFIG_TIMEOUT: 'soon' }, config: '{}', exit: 2 },
  ],
}

const counts = { cases: 0, oneLineErrors: 0, internalErrors: 0, leftovers: 0 }

/** Our temporary names: `<file>.tmp-<pid>`, `.<name>.casa-tmp-<pid>-<random>`. */
function leftovers(dir: string): string[] {
  const found: string[] = []
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (/\.tmp-\d+$|\.casa-tmp-\d+-/.test(entry.name)) found.push(join(d, entry.name))
      if (entry.isDirectory() && !entry.isSymbolicLink()) walk(join(d, entry.name))
    }
  }
  walk(dir)
  return found
}

for (const [name, cases] of Object.entries(classes)) {
  t.test(name, async (t) => {
    for (const c of cases) {
      const dir = tempDir(t, 'casa-hostile-')
      const home = join(dir, '.home')
      mkdirSync(home)
      if (c.config !== undefined) writeFileSync(join(dir, 'casa.config.ts'), `export default ${c.config}\n`)
      c.prepare?.(dir)
      const r = await runCli(['-r', dir, ...c.words], { env: { HOME: home, CASA_CONFIG: undefined, CASA_DEFAULT_REPOSITORY: undefined, ...c.env }, cwd: dir })
      const label = c.words.join(' ')
      counts.cases++
      const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'))
      if (errors.length === 1) counts.oneLineErrors++
      if (/internal error/.test(r.stderr)) counts.internalErrors++
      const left = leftovers(dir)
      counts.leftovers += left.length
      t.equal(r.code, c.exit ?? 1, `${label}: exit ${c.exit ?? 1} (${r.stderr.trim().slice(0, 300)})`)
      t.equal(errors.length, 1, `${label}: one error line`)
      t.notMatch(r.stderr, /internal error|\n\s+at /, `${label}: no internal error`)
      t.notMatch(r.stdout + r.stderr, secret, `${label}: no secret`)
      t.same(left, [], `${label}: nothing left behind`)
    }
  })
}

t.teardown(() => {
  // one line for the README's reliability section
  console.log(`# hostile inputs: ${counts.cases} cases in ${Object.keys(classes).length} classes, ${counts.oneLineErrors} one-line errors, internal errors: ${counts.internalErrors}, leftovers: ${counts.leftovers}`)
})
