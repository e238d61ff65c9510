// The `$` of the public API (zx's, configured once per run), as a site task uses it through the
// real command: output captured, -v echoes each command with credentials masked, a failure is
// one line, a missing program says so, and Ctrl-C kills the running command.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { binPath, runCli } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

function repositoryWith(t: Test, task: string) {
  const dir = tempDir(t, 'casa-shell-')
  const repo = join(dir, 'repo')
  mkdirSync(join(repo, 'tasks'), { recursive: true })
  mkdirSync(join(dir, 'home'))
  writeFileSync(join(repo, 'tasks', 'sh.ts'), task)
  return { repo, env: { HOME: join(dir, 'home'), CASA_CONFIG: undefined, CASA_DEFAULT_REPOSITORY: undefined } }
}

const commandsTask = `import { defineTask, $, ui } from 'casa-distro-admin'
export default defineTask({
  name: 'sh',
  summary: 'run commands',
  options: { step: { type: 'string', default: 'ok', help: 'what to run' } },
  async run(options) {
    if (options.step === 'ok') {
      const out = await $\`echo \${'two words'} \${'https://bob:s3cret@example.org/repo.git'}\`
      ui.result(out.stdout.trim())
      // the captured value is whole for the task; only what is printed is masked
      ui.result(String(out.stdout.includes('bob:s3cret@')))
      ui.result((await $({ cwd: '/' })\`pwd\`).stdout.trim())
    }
    if (options.step === 'fail') await $\`ls /no/such/casa-dir\`
    if (options.step === 'missing') await $\`casa-no-such-program\`
    if (options.step === 'nothrow') ui.result(String((await $({ nothrow: true })\`exit 3\`).exitCode))
  },
})
`

t.test('output captured, values quoted as one word, -v echoes with credentials masked', async (t) => {
  const { repo, env } = repositoryWith(t, commandsTask)
  const quiet = await runCli(['-r', repo, 'sh'], { env })
  t.equal(quiet.code, 0, quiet.stderr)
  t.equal(quiet.stdout, 'two words https://bob:***@example.org/repo.git\ntrue\n/\n', 'the output is the task’s to use, masked when printed')
  t.equal(quiet.stderr, '', 'nothing echoed without -v')
  const verbose = await runCli(['-r', repo, '-v', 'sh'], { env })
  t.equal(verbose.code, 0, verbose.stderr)
  t.match(verbose.stderr, /^\$ echo \$'two words' https:\/\/bob:\*\*\*@example\.org\/repo\.git$/m, 'echoed, masked')
  t.notMatch(verbose.stderr, /s3cret/, 'the secret is never echoed')
  t.match(verbose.stderr, /^\$ pwd \(in \/\)$/m, 'the working directory is named')
})

t.test('a failing command is one line; a missing program says so; nothrow gives the exit code', async (t) => {
  const { repo, env } = repositoryWith(t, commandsTask)
  const fail = await runCli(['-r', repo, 'sh', 'step=fail'], { env })
  t.equal(fail.code, 1)
  t.match(fail.stderr, /^error: ls \/no\/such\/casa-dir failed \(exit 2\): ls: cannot access '\/no\/such\/casa-dir': No such file or directory\n$/)
  const missing = await runCli(['-r', repo, 'sh', 'step=missing'], { env })
  t.equal(missing.code, 1)
  t.equal(missing.stderr, 'error: casa-no-such-program is not installed\n')
  const nothrow = await runCli(['-r', repo, 'sh', 'step=nothrow'], { env })
  t.equal(nothrow.code, 0, nothrow.stderr)
  t.equal(nothrow.stdout, '3\n')
})

/** Pids of processes whose command line is exactly `argv`. */
function processesRunning(argv: readonly string[]): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8') === `${argv.join('\0')}\0`
      } catch {
        return false // ended meanwhile
      }
    })
    .map(Number)
}

t.test('Ctrl-C kills the running command and exits 130', async (t) => {
  const marker = `${600 + Math.floor(Math.random() * 1000)}.${process.pid}`
  const { repo, env } = repositoryWith(
    t,
    `import { defineTask, $ } from 'casa-distro-admin'
export default defineTask({ name: 'sh', summary: 'wait', options: {}, async run() { await $\`sleep ${marker}\` } })
`,
  )
  const child = spawn(process.execPath, [binPath, '-r', repo, '-v', 'sh'], { env: { ...process.env, ...env, NO_COLOR: '1', CI: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  let sent = false
  let echoed!: () => void
  const echo = new Promise<void>((resolve) => (echoed = resolve))
  child.stderr.on('data', (c) => {
    stderr += c
    if (stderr.includes(`$ sleep ${marker}`)) echoed()
  })
  // the echo comes as the command starts; then the sleep process appears (up to 10 s)
  await echo
  for (let i = 0; i < 500 && processesRunning(['sleep', marker]).length === 0; i++) await new Promise((r) => setTimeout(r, 20))
  if (processesRunning(['sleep', marker]).length > 0) {
    sent = true
    child.kill('SIGINT')
  }
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))
  t.ok(sent, 'interrupted while the command ran')
  t.equal(code, 130, stderr)
  t.same(processesRunning(['sleep', marker]), [], 'the command is killed, not left running')
})

// The library's own captured commands (exec.run) go through the same configured `$`.
t.test("the library's captured commands: words kept whole, input, output forwarded, one-line failures", async (t) => {
  const { run, CommandError, NotInstalledError } = await import('../lib/util/exec.js')
  const words = await run('sh', ['-c', 'printf "%s|" "$@"', 'sh', 'two words', "it's", '$HOME', 'a\nb'])
  t.equal(words.stdout, "two words|it's|$HOME|a\nb|", 'every argument one word, nothing expanded')
  t.equal((await run('cat', [], { input: 'from stdin' })).stdout, 'from stdin')
  const seen: string[] = []
  await run('sh', ['-c', 'echo out; echo err >&2'], { onOutput: (text) => seen.push(text) })
  t.same(seen.join('').split('\n').filter(Boolean).sort(), ['err', 'out'], 'stdout and stderr forwarded as they come')
  const failed = await run('sh', ['-c', 'echo "fatal: no such ref" >&2; exit 3'], { allowFailure: true })
  t.equal(failed.exitCode, 3)
  await t.rejects(run('sh', ['-c', 'echo "fatal: no such ref" >&2; exit 3']), new CommandError(['sh', '-c', 'x'], failed))
  await t.rejects(run('casa-no-such-program', []), NotInstalledError)
  const aborted = new AbortController()
  const sleeping = run('sleep', ['60'], { signal: aborted.signal, allowFailure: true })
  aborted.abort()
  t.not((await sleeping).exitCode, 0, 'an aborted command ends')
})
