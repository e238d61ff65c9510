// A site's own tasks: task files in the workflow repository's tasks/ (or on the config's
// taskSearchPath) are tasks of `casa_distro_admin`, with no node_modules in that repository;
// a site's copy of a builtin task replaces it; a file that does not load is one line and the
// other tasks still work. The real compiled command, as a user runs it.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { binPath, projectRoot, runCli } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const helloTask = `import { defineTask } from 'casa-distro-admin'
import { greeting } from './lib/greeting.ts'

export default defineTask({
  name: 'hello',
  summary: 'Greet someone (a site task)',
  options: { who: { type: 'string', default: 'world', help: 'whom to greet' } },
  async run(options, { config }) {
    const { ui } = await import('casa-distro-admin')
    ui.result(greeting(options.who) + ' in ' + config.namespace)
  },
})
`

/** A workflow repository without node_modules, holding site tasks, and a private HOME. */
function siteRepository(t: Test) {
  const dir = tempDir(t, 'casa-site-')
  const repo = join(dir, 'repo')
  mkdirSync(join(repo, 'tasks', 'lib'), { recursive: true })
  writeFileSync(join(repo, 'casa.config.ts'), `import { defineConfig } from 'casa-distro-admin'\nexport default defineConfig({ namespace: 'site' })\n`)
  writeFileSync(join(repo, 'tasks', 'hello.ts'), helloTask)
  // a helper module a task imports lives in a subdirectory: not a task file
  writeFileSync(join(repo, 'tasks', 'lib', 'greeting.ts'), `export const greeting = (who: string): string => 'hello ' + who\n`)
  const home = join(dir, 'home')
  mkdirSync(home)
  return { repo, home, env: { HOME: home, CASA_CONFIG: undefined, CASA_DEFAULT_REPOSITORY: undefined } }
}

t.test('a task file in <repository>/tasks is a task: help, help <task>, run, completion', async (t) => {
  const site = siteRepository(t)
  t.notOk(existsSync(join(site.repo, 'node_modules')), 'the workflow repository has no node_modules')
  const help = await runCli(['-r', site.repo, 'help'], { env: site.env })
  t.equal(help.code, 0, help.stderr)
  t.match(help.stdout, /^ {2}hello +Greet someone \(a site task\) +\[.*\/repo\/tasks\/hello\.ts\]$/m, 'listed with its origin')
  t.match(help.stdout, /^ {2}create_docker +Build docker images/m, 'the builtin tasks are still there')
  t.notMatch(help.stdout, /^ {2}create_docker .*\[/m, 'a builtin task shows no file')
  t.notMatch(help.stdout, /greeting/, 'a module in a subdirectory is not a task')

  const taskHelp = await runCli(['-r', site.repo, 'help', 'hello'], { env: site.env })
  t.equal(taskHelp.code, 0, taskHelp.stderr)
  t.match(taskHelp.stdout, /casa_distro_admin hello/)
  t.match(taskHelp.stdout, /who[\s\S]*default = 'world'[\s\S]*whom to greet/)

  const run = await runCli(['-r', site.repo, 'hello', 'who=you'], { env: site.env })
  t.equal(run.code, 0, run.stderr)
  t.equal(run.stdout, 'hello you in site\n', 'options parsed, config loaded')
  const after = await runCli(['hello', '--who', 'me', '-r', site.repo], { env: site.env })
  t.equal(after.stdout, 'hello me in site\n', '-r after the task name finds it too')

  const completion = await runCli(['-r', site.repo, 'completion', 'bash'], { env: site.env })
  t.equal(completion.code, 0, completion.stderr)
  t.match(completion.stdout, /hello\) words="who= --who /, 'completion knows its options')
  t.match(completion.stdout, /words="help completion [^"]*\bhello\b/, 'and its name')

  const unknown = await runCli(['hello'], { env: site.env })
  t.equal(unknown.code, 2, 'another repository does not see it')
  t.match(unknown.stderr, /unknown task "hello"/)
})

t.test("a site's copy of a builtin task replaces it; -v names the shadowed one", async (t) => {
  const site = siteRepository(t)
  const copy = readFileSync(join(projectRoot, 'tasks', 'show_config.ts'), 'utf8').replace('Print the configuration in effect', 'SITE: print the configuration')
  writeFileSync(join(site.repo, 'tasks', 'show_config.ts'), copy)
  const help = await runCli(['-r', site.repo, '-v', 'help'], { env: site.env })
  t.equal(help.code, 0, help.stderr)
  t.match(help.stdout, /^ {2}show_config +SITE: print the configuration.*\[.*\/repo\/tasks\/show_config\.ts\]$/m)
  t.equal(help.stdout.match(/^ {2}show_config /gm)?.length, 1, 'listed once')
  t.match(help.stderr, /task show_config: \S*\/repo\/tasks\/show_config\.ts shadows the builtin one/)
  const quiet = await runCli(['-r', site.repo, 'help'], { env: site.env })
  t.notMatch(quiet.stderr, /shadows/, 'only with -v')
  // the copied builtin runs from the workflow repository, imports resolved to the installed tool
  const run = await runCli(['-r', site.repo, 'show_config', '--json', '-v'], { env: site.env })
  t.equal(run.code, 0, run.stderr)
  t.equal(JSON.parse(run.stdout).namespace, 'site')
  t.match(run.stderr, /task show_config: .* shadows the builtin one/)
})

t.test('a task file that does not load: one line naming it, the other tasks still work', async (t) => {
  const site = siteRepository(t)
  const broken = join(site.repo, 'tasks', 'broken.ts')
  writeFileSync(broken, `import { defineTask } from 'casa-distro-admin'\nexport default defineTask({ name: 'broken', summary: 'x', options: {},\n`)
  const throwing = join(site.repo, 'tasks', 'throwing.ts')
  writeFileSync(throwing, `throw new Error('site setup missing')\n`)
  const notATask = join(site.repo, 'tasks', 'not_a_task.ts')
  writeFileSync(notATask, `export const x = 1\n`)
  const help = await runCli(['-r', site.repo, 'help'], { env: site.env })
  t.equal(help.code, 0, help.stderr)
  t.match(help.stdout, /^ {2}hello /m, 'the other site task is listed')
  t.match(help.stdout, /^ {2}show_config /m, 'and the builtin ones')
  const warnings = help.stderr.trim().split('\n')
  t.equal(warnings.length, 3, help.stderr)
  t.match(help.stderr, new RegExp(`^warning: ${broken}:3: Expected .* but found end of file$`, 'm'))
  t.match(help.stderr, new RegExp(`^warning: ${throwing}: site setup missing$`, 'm'))
  t.match(help.stderr, new RegExp(`^warning: ${notATask}: not a task: its default export must be defineTask`, 'm'))
  t.notMatch(help.stderr, /\n\s+at /, 'no stack trace')

  const run = await runCli(['-r', site.repo, 'broken'], { env: site.env })
  t.equal(run.code, 1)
  t.match(run.stderr, new RegExp(`^error: ${broken}:3: Expected .* but found end of file\n$`))
  const other = await runCli(['-r', site.repo, 'hello'], { env: site.env })
  t.equal(other.code, 0, other.stderr)
  t.equal(other.stderr, '', 'running another task does not even load the broken one')
})

t.test('taskSearchPath: ~/.config/casa-distro/tasks by default, or the directories the config names', async (t) => {
  const site = siteRepository(t)
  const userTasks = join(site.home, '.config', 'casa-distro', 'tasks')
  mkdirSync(userTasks, { recursive: true })
  writeFileSync(join(userTasks, 'hello.ts'), helloTask.replace('a site task', 'user copy').replace(`import { greeting } from './lib/greeting.ts'\n`, `const greeting = (who: string) => 'hi ' + who\n`))
  writeFileSync(join(userTasks, 'mine.ts'), helloTask.replace("name: 'hello'", "name: 'mine'").replace(`import { greeting } from './lib/greeting.ts'\n`, `const greeting = (who: string) => 'mine ' + who\n`))
  const help = await runCli(['-r', site.repo, 'help'], { env: site.env })
  t.match(help.stdout, /^ {2}hello +Greet someone \(a site task\) +\[.*\/repo\/tasks\/hello\.ts\]$/m, 'the repository comes first')
  t.match(help.stdout, /^ {2}mine +Greet someone \(a site task\) +\[~\/\.config\/casa-distro\/tasks\/mine\.ts\]$/m, 'then ~/.config/casa-distro/tasks')

  const elsewhere = join(site.repo, 'more-tasks')
  mkdirSync(elsewhere)
  copyFileSync(join(userTasks, 'mine.ts'), join(elsewhere, 'other.ts'))
  writeFileSync(join(site.repo, 'casa.config.ts'), `export default { namespace: 'site', taskSearchPath: ['{repository}/more-tasks'] }\n`)
  const configured = await runCli(['-r', site.repo, 'help'], { env: site.env })
  t.equal(configured.code, 0, configured.stderr)
  t.match(configured.stdout, /^ {2}other +Greet someone/m, 'the named directory is searched')
  t.notMatch(configured.stdout, /^ {2}(hello|mine) /m, 'the default directories are not')
  t.match(configured.stdout, /^ {2}create_docker /m, 'the builtin tasks come last even when not listed')
  const show = await runCli(['-r', site.repo, 'show_config', '--json'], { env: site.env })
  t.same(JSON.parse(show.stdout).taskSearchPath, [elsewhere], 'show_config shows the search path, expanded')
})

t.test('a site task gets the same Ctrl-C handling: its cleanups run, exit 130', async (t) => {
  const site = siteRepository(t)
  writeFileSync(
    join(site.repo, 'tasks', 'wait.ts'),
    `import { defineTask } from 'casa-distro-admin'
export default defineTask({
  name: 'wait',
  summary: 'Wait for Ctrl-C',
  options: {},
  async run() {
    const { onInterrupt } = await import('casa-distro-admin/util/interrupt')
    onInterrupt(() => { process.stdout.write('cleaned up\\n') })
    setInterval(() => {}, 1000) // work under way keeps the process alive
    process.stdout.write('ready\\n')
    await new Promise(() => {})
  },
})
`,
  )
  const child = spawn(process.execPath, [binPath, '-r', site.repo, 'wait'], { env: { ...process.env, ...site.env, NO_COLOR: '1', CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (c) => (stderr += c))
  child.stdout.on('data', (c) => {
    stdout += c
    if (stdout.includes('ready\n')) child.kill('SIGINT') // once the task runs: an event, not a delay
  })
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
  t.equal(code, 130, stderr)
  t.match(stdout, /cleaned up/)
  t.match(stderr, /interrupted \(SIGINT\)/)
})

t.test('a config that does not load: help warns in one line and lists the builtin tasks', async (t) => {
  const site = siteRepository(t)
  const config = join(site.repo, 'casa.config.ts')
  writeFileSync(config, `export default { namespace: 'Not Valid' }\n`)
  const help = await runCli(['-r', site.repo, 'help'], { env: site.env })
  t.equal(help.code, 0, help.stderr)
  t.match(help.stderr, new RegExp(`^warning: ${config}: namespace: .* \\(only the builtin tasks are listed\\)\\n$`))
  t.match(help.stdout, /^ {2}show_config /m)
  t.notMatch(help.stdout, /^ {2}hello /m)
  const run = await runCli(['-r', site.repo, 'hello'], { env: site.env })
  t.equal(run.code, 1, 'a site task cannot be found without its config')
  t.match(run.stderr, new RegExp(`^error: ${config}: namespace: `))
})

t.test('the builtin search path the dispatcher uses without a config is the builtin config’s', async (t) => {
  const { builtinTaskSearchPath } = await import('../lib/config/configLocation.js')
  const builtin = (await import('../casa.config.js')).default as { taskSearchPath: string[] }
  t.same(builtinTaskSearchPath, builtin.taskSearchPath)
})
