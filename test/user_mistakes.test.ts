// A user's mistake is one line naming the path or key, and a non-zero exit: never an
// "internal error" with a stack, never a silent fallback (a broken config link used to run with
// the builtin production hubs), never a success (git missing used to fail every component and
// exit 0). The real CLI, git and file system.
import t, { type Test } from 'tap'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'
import { LocalPathError, systemErrorOnPath } from '../lib/util/errors.js'
import { NotInstalledError, saysNotFound } from '../lib/util/exec.js'

function oneLine(t: Test, r: { code: number; stderr: string }, message: RegExp | string, label: string) {
  t.equal(r.code, 1, `${label}: exit 1 (${r.stderr.trim()})`)
  const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'))
  t.equal(errors.length, 1, `${label}: one error line`)
  t.match(errors[0] ?? '', message, `${label}: says what and where`)
  t.notMatch(r.stderr, /internal error|\n\s+at /, `${label}: no stack`)
}

function repository(t: Test, config?: string) {
  const dir = tempDir(t, 'casa-mistakes-')
  const home = join(dir, '.home')
  mkdirSync(home)
  if (config !== undefined) writeFileSync(join(dir, 'casa.config.ts'), config)
  return { dir, env: { HOME: home, CASA_CONFIG: undefined, CASA_DEFAULT_REPOSITORY: undefined } }
}

t.test('a config getter that throws is the config file\'s error', async (t) => {
  const { dir, env } = repository(t, `export default { get jobs() { throw new Error('no JOBS set') } }\n`)
  oneLine(t, await runCli(['-r', dir, 'show_config'], { env }), `${join(dir, 'casa.config.ts')}: reading the configuration threw: no JOBS set`, 'getter')
})

t.test('a broken casa.config.ts link is reported, not skipped for the builtin hubs', async (t) => {
  const { dir, env } = repository(t)
  symlinkSync(join(dir, 'gone.ts'), join(dir, 'casa.config.ts'))
  oneLine(t, await runCli(['-r', dir, 'show_config'], { env }), `config file ${join(dir, 'casa.config.ts')} is a symbolic link to ${join(dir, 'gone.ts')}, which does not exist`, 'repository link')
  oneLine(t, await runCli(['show_config'], { env: { ...env, CASA_CONFIG: join(dir, 'casa.config.ts') } }), /is a symbolic link to .*gone\.ts, which does not exist/, '$CASA_CONFIG link')
  oneLine(t, await runCli(['show_config'], { env: { ...env, CASA_CONFIG: dir } }), `config file ${dir} is a directory`, '$CASA_CONFIG a directory')
})

const components = (dir: string) => `export default { releasePlan: { components: [{ project: 'p', name: 'a', url: 'file://${dir}/a.git' }, { project: 'p', name: 'b', url: 'file://${dir}/b.git' }] } }\n`

t.test('git missing from PATH fails the run in one line, not every component and exit 0', async (t) => {
  const { dir, env } = repository(t)
  writeFileSync(join(dir, 'casa.config.ts'), components(dir))
  // a PATH with node and sh only
  const bin = join(dir, 'bin')
  mkdirSync(bin)
  symlinkSync(process.execPath, join(bin, 'node'))
  symlinkSync('/bin/sh', join(bin, 'sh'))
  for (const task of ['create_release_plan', 'update_release_plan']) {
    oneLine(t, await runCli(['-r', dir, task], { env: { ...env, PATH: bin } }), 'git is not installed (install the git package)', task)
  }
})

t.test('a release-plan cache that cannot be written is said so, not blamed on the remote', async (t) => {
  const { dir, env } = repository(t)
  writeFileSync(join(dir, 'casa.config.ts'), components(dir))
  writeFileSync(join(dir, '.release-plan-cache'), 'a file where the cache goes\n')
  const r = await runCli(['-r', dir, 'create_release_plan'], { env })
  oneLine(t, r, `cannot mkdir the release-plan cache ${join(dir, '.release-plan-cache', 'p')}: a part of the path is not a directory`, 'cache')
  t.notMatch(r.stderr, /cannot read file:/, 'the remote is not blamed')
})

t.test('system errors on a path are one line naming it; missing programs are recognised', async (t) => {
  const { dir } = repository(t)
  let caught: unknown
  try {
    writeFileSync(dirname(join(dir, 'x')), 'a directory where a file goes')
  } catch (error) {
    caught = error
  }
  const mapped = systemErrorOnPath(caught)
  t.ok(mapped instanceof LocalPathError)
  t.equal(mapped?.message, `cannot open ${dir}: is a directory (a file was expected)`)
  t.equal(systemErrorOnPath(new TypeError('a bug')), undefined, 'a programming error stays one')
  t.ok(saysNotFound('git', 127, 'sh: 7: git: not found'))
  t.ok(saysNotFound('git', 127, 'bash: git: command not found'))
  t.notOk(saysNotFound('git', 128, 'fatal: git: not found'), 'only the shell\'s exit 127')
  t.ok(new NotInstalledError('git').message.includes('install the git package'))
})
