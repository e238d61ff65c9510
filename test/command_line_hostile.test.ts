// The command line as a careless user writes it: every mistake is a usage error (exit 2) in one
// line naming the option, the builtin commands have their help, and a HOME that does not exist
// is not created for the caches. The real CLI, run as a user would.
import t from 'tap'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const dir = tempDir(t, 'casa-cli-hostile-')
const home = join(dir, 'home')
mkdirSync(home)
const env = { HOME: home, CASA_CONFIG: undefined, CASA_DEFAULT_REPOSITORY: undefined }

const usageErrors: [string[], RegExp][] = [
  [['show_config', '-r', 'a', '-r', 'b'], /repository given twice with different values: "a" and "b"/],
  [['-r', 'a', 'show_config', '-r', 'b'], /repository given twice with different values/],
  [['show_config', 'repository=a', '--repository', 'b'], /repository given twice/],
  [['--config', 'x.ts', 'show_config', 'config=y.ts'], /config given twice/],
  [['create_docker', 'jobs=2', '--jobs', '3'], /jobs given twice with different values: "3" and "2"/],
  [['create_docker', 'image_names=a', 'image_names=b'], /image_names given twice/],
  [['create_docker', '--image-names', 'a', 'image_names=b'], /image_names given twice/],
  [['create_docker', '--force', 'force=0'], /force given twice/],
  [['create_docker', '--force', '--no-force'], /force given twice/],
  [['-r'], /-r needs a value/],
  [['show_config', '-r'], /--repository needs a value/],
  [['--config'], /--config needs a value/],
  [['publish_docker', 'jobs=0'], /jobs=0: expected a whole number from 1/],
  [['update_docker', 'jobs=-1'], /jobs=-1: expected a whole number from 1/],
  [['create_docker', 'jobs=1.5'], /jobs=1\.5: expected a whole number from 1/],
  [['help', 'nosuch'], /unknown task "nosuch"/],
  [['help', 'show_config', 'list_images'], /help takes one task name/],
]

t.test('usage errors exit 2 with one line naming the option', async (t) => {
  for (const [words, message] of usageErrors) {
    const r = await runCli(words, { env, cwd: dir })
    t.equal(r.code, 2, `${words.join(' ')}: exit 2 (${r.stderr.trim()})`)
    t.match(r.stderr, message, `${words.join(' ')}: says why`)
    t.equal(r.stderr.trim().split('\n').length, 1, `${words.join(' ')}: one line`)
    t.notMatch(r.stderr, /internal error|at .*\.js:\d+/, `${words.join(' ')}: no stack`)
  }
})

t.test('the same value twice is no mistake', async (t) => {
  for (const words of [
    ['show_config', '-r', dir, '--repository', dir],
    ['-r', dir, 'show_config', `repository=${dir}`],
    ['list_images', 'image_names=nothing/*', '--image-names', 'nothing/*', 'json=1'],
  ]) {
    const r = await runCli(words, { env, cwd: dir })
    t.notMatch(r.stderr, /given twice/, words.join(' '))
    t.not(r.code, 2, `${words.join(' ')}: not a usage error (${r.stderr.trim()})`)
  }
})

t.test('help help and help completion', async (t) => {
  const help = await runCli(['help', 'help'], { env })
  t.equal(help.code, 0, help.stderr)
  t.match(help.stdout, /casa_distro_admin help \[task\]/)
  const completion = await runCli(['help', 'completion'], { env })
  t.equal(completion.code, 0, completion.stderr)
  t.match(completion.stdout, /source <\(casa_distro_admin completion bash\)/)
  const script = await runCli(['completion', 'bash'], { env })
  t.match(script.stdout, /help\) words="help completion /, 'completion offers the builtins after help')
})

t.test('a HOME that does not exist is not created; -v says the caches are off', async (t) => {
  const missing = join(dir, 'no-such-home')
  const config = join(dir, 'casa.config.ts')
  writeFileSync(config, `export default { jobs: 3 }\n`)
  const r = await runCli(['-v', 'show_config'], { env: { HOME: missing, CASA_CONFIG: config, XDG_CACHE_HOME: undefined }, cwd: dir })
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /jobs: 3/)
  t.match(r.stderr, `HOME ${missing} does not exist: running without caches`)
  t.notOk(existsSync(missing), 'HOME was not created')
})
