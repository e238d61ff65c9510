// The casa_distro_admin command as users run it: the compiled bin and a task file's shebang.
import t, { type Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot, runCli, runProgram } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const env = (t: Test) => ({ HOME: tempDir(t), CASA_CONFIG: undefined, CASA_DEFAULT_REPOSITORY: undefined })

t.test('help lists the tasks with their summaries', async (t) => {
  const result = await runCli(['help'], { env: env(t) })
  t.equal(result.code, 0)
  t.match(result.stdout, /Tasks:\n/)
  t.match(result.stdout, /show_config\s+Print the configuration in effect/)
  t.equal(result.stderr, '')
  t.same((await runCli([], { env: env(t) })).stdout, result.stdout, 'no task is help')
})

t.test('help <task> shows options with their defaults', async (t) => {
  const result = await runCli(['help', 'show_config'], { env: env(t) })
  t.equal(result.code, 0)
  t.match(result.stdout, /casa_distro_admin show_config \[options\]/)
  t.match(result.stdout, /json\n\s+default = 0\n\s+print JSON/)
  t.same((await runCli(['show_config', '--help'], { env: env(t) })).stdout, result.stdout)
})

t.test('--version prints the package version', async (t) => {
  const { version } = JSON.parse((await import('node:fs')).readFileSync(join(projectRoot, 'package.json'), 'utf8'))
  t.equal((await runCli(['--version'], { env: env(t) })).stdout.trim(), `casa_distro_admin ${version}`)
})

t.test('an unknown task or option: one line with the closest name, exit 2', async (t) => {
  const task = await runCli(['show_confg'], { env: env(t) })
  t.equal(task.code, 2)
  t.equal(task.stderr.trim().split('\n').length, 1)
  t.match(task.stderr, /unknown task "show_confg" \(did you mean "show_config"\?\)/)
  const option = await runCli(['show_config', 'jsn=1'], { env: env(t) })
  t.equal(option.code, 2)
  t.equal(option.stderr.trim(), 'error: show_config: unknown option jsn (did you mean "json"?)')
  const global = await runCli(['--verbos', 'help'], { env: env(t) })
  t.equal(global.code, 2)
  t.match(global.stderr, /unknown option --verbos \(did you mean "--verbose"\?\)/)
})

t.test('a user error in the config: one line, no stack trace, exit 1', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'casa.config.ts'), 'export default { jobs: "two" }\n')
  const result = await runCli(['-r', dir, 'show_config'], { env: env(t) })
  t.equal(result.code, 1)
  t.equal(result.stderr, `error: ${join(dir, 'casa.config.ts')}: jobs: expected a whole number from 1 to 64, got "two"\n`)
  t.notMatch(result.stderr, /at .*\.js:\d+/)
})

t.test('a JavaScript config that fails to load: one line with the file and line, exit 1', async (t) => {
  const dir = tempDir(t)
  const cases: [string, string, string][] = [
    ['syn.mjs', 'export default {\n  jobs: 2,,\n}\n', ":2: Unexpected token ','"],
    ['syn.js', 'export default {\n  jobs: 2,,\n}\n', ":2: Unexpected token ','"],
    ['throws.js', "const a = 1\nthrow new Error('set CASA_SITE first')\nexport default {}\n", ':2: set CASA_SITE first'],
    ['string.mjs', "throw 'boom'\n", ': boom'],
  ]
  for (const [name, source, message] of cases) {
    const file = join(dir, name)
    writeFileSync(file, source)
    const result = await runCli(['--config', file, 'show_config'], { env: env(t) })
    t.equal(result.code, 1, name)
    t.equal(result.stderr, `error: ${file}${message}\n`, name)
  }
})

t.test('global options before or after the task, key=value or dashed', async (t) => {
  const dir = tempDir(t)
  for (const args of [['-r', dir, 'show_config', '--json'], ['show_config', 'json=1', `repository=${dir}`], ['show_config', '--repository', dir, '--json']]) {
    const result = await runCli(args, { env: env(t) })
    t.equal(result.code, 0, args.join(' '))
    t.equal(JSON.parse(result.stdout).repository, dir, args.join(' '))
  }
})

t.test('a task file runs directly through its shebang, the same as through the dispatcher', async (t) => {
  const dir = tempDir(t)
  const home = env(t)
  const direct = await runProgram(join(projectRoot, 'tasks', 'show_config.ts'), ['-r', dir, 'json=1'], { env: home })
  t.equal(direct.code, 0, direct.stderr)
  const dispatched = await runCli(['-r', dir, 'show_config', 'json=1'], { env: home })
  t.same(JSON.parse(direct.stdout), JSON.parse(dispatched.stdout))
  const bad = await runProgram(join(projectRoot, 'tasks', 'show_config.ts'), ['jsn=1'], { env: env(t) })
  t.equal(bad.code, 2)
  t.match(bad.stderr, /did you mean "json"/)
})

t.test('bash completion completes tasks and their options', async (t) => {
  const script = (await runCli(['completion', 'bash'], { env: env(t) })).stdout
  const complete = async (line: string) => {
    const words = line.split(' ')
    const probe = `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _casa_distro_admin; printf '%s\\n' "\${COMPREPLY[@]}"`
    return (await runProgram('bash', ['-c', probe])).stdout.split('\n').filter(Boolean)
  }
  t.same(await complete('casa_distro_admin show_c'), ['show_config '])
  t.same(await complete('casa_distro_admin show_config js'), ['json='])
  t.ok((await complete('casa_distro_admin -v show_config --')).includes('--json'))
  t.equal((await runCli(['completion', 'zsh'], { env: env(t) })).code, 2)
})
