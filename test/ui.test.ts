// Terminal behaviour of lib/util/ui.ts: colour only for a stream that is a terminal, NO_COLOR for
// the spinner too, and no spinner on a terminal without width. The terminal cases run the
// compiled module (and the CLI) under util-linux `script`, a real pseudo-terminal.
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { binPath, projectRoot } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const hasScript = spawnSync('script', ['--version']).status === 0
// tap sets NO_COLOR and FORCE_COLOR=0 for its children
const terminalEnv = { ...process.env, TERM: 'xterm', CI: undefined, NO_COLOR: undefined, FORCE_COLOR: undefined, COLOR: undefined }
const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`

/**
 * Run a shell command on a pseudo-terminal; what it wrote there, at most 1 MB of it. The
 * command is killed after `seconds` (a spinner that loops forever writes hundreds of MB).
 */
function inTerminal(command: string, env: Record<string, string | undefined> = {}, seconds = 15): Promise<{ output: string; code: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', `exec timeout -s KILL ${seconds} sh -c ${quote(command)}`, '/dev/null'], {
      cwd: projectRoot,
      env: { ...terminalEnv, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let output = ''
    child.stdout.on('data', (c) => {
      if (output.length < 1_000_000) output += c
    })
    child.stderr.resume()
    child.on('error', reject)
    child.on('close', (code) => resolve({ output, code: code ?? 1 }))
  })
}

/**
 * A script that runs one ui.step, optionally squeezing the terminal to 0 columns mid-step: once
 * the spinner is drawn (it hides the cursor), and going on once the process has seen the resize.
 */
function stepScript(t: Test, resizeMidStep: boolean): string {
  const file = join(tempDir(t), 'step.mjs')
  const squeeze = `await spinnerDrawn
  const resized = new Promise((resolve) => process.stderr.once('resize', resolve))
  execSync('stty cols 0', { stdio: 'inherit' })
  await resized`
  writeFileSync(
    file,
    `import { ui } from ${JSON.stringify(join(projectRoot, 'dist', 'lib', 'util', 'ui.js'))}
import { execSync } from 'node:child_process'
const spinnerDrawn = new Promise((resolve) => {
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = (chunk, ...rest) => {
    if (String(chunk).includes('\\x1b[?25l')) resolve()
    return write(chunk, ...rest)
  }
})
await ui.step('working', async (step) => {
  ${resizeMidStep ? squeeze : ''}
  step.update('half way')
  ui.info('a line')
})
ui.info('all done')
`,
  )
  return file
}

const escapes = (text: string) => text.match(/\x1b\[[0-9;]*m/g) ?? []

t.test('a terminal of 0 columns: plain lines, no spinner, and the step ends', { skip: !hasScript && 'no script(1)' }, async (t) => {
  const result = await inTerminal(`stty cols 0 rows 0; node ${quote(stepScript(t, false))}`)
  t.equal(result.code, 0, 'finished before the timeout')
  t.ok(result.output.length < 2000, `a few lines, not ${result.output.length} bytes`)
  t.match(result.output.replace(/\x1b\[[0-9;]*m/g, ''), /\d\d:\d\d:\d\d working \.\.\./)
  t.match(result.output, /all done/)
  t.notMatch(result.output, /\x1b\[1A/, 'no cursor movement')
})

t.test('a terminal squeezed to 0 columns during a step: the spinner stops, the step ends', { skip: !hasScript && 'no script(1)' }, async (t) => {
  const result = await inTerminal(`stty cols 80 rows 24; node ${quote(stepScript(t, true))}`)
  t.equal(result.code, 0, 'finished before the timeout')
  t.ok(result.output.length < 5000, `a few lines, not ${result.output.length} bytes`)
  t.match(result.output, /working: half way/, 'plain progress once the width is gone')
  t.match(result.output, /all done/)
})

t.test('NO_COLOR on a terminal: the spinner still turns, without colour', { skip: !hasScript && 'no script(1)' }, async (t) => {
  const result = await inTerminal(`stty cols 80 rows 24; node ${quote(stepScript(t, false))}`, { NO_COLOR: '1' })
  t.equal(result.code, 0)
  t.match(result.output, /\x1b\[\?25l/, 'a spinner was drawn (cursor hidden)')
  t.same(escapes(result.output), [], 'no colour escape')
  const colored = await inTerminal(`stty cols 80 rows 24; node ${quote(stepScript(t, false))}`)
  t.match(colored.output, /\x1b\[36m/, 'without NO_COLOR the spinner is cyan')
})

t.test('help redirected to a file with stderr on a terminal: no escape codes in the file', { skip: !hasScript && 'no script(1)' }, async (t) => {
  const dir = tempDir(t)
  const env = { HOME: dir, CASA_CONFIG: undefined, CASA_DEFAULT_REPOSITORY: undefined }
  for (const args of [['help'], ['help', 'list_images']]) {
    const file = join(dir, 'out.txt')
    const result = await inTerminal(`stty cols 80 rows 24; node ${quote(binPath)} ${args.join(' ')} > ${quote(file)}`, env)
    t.equal(result.code, 0, args.join(' '))
    const text = readFileSync(file, 'utf8')
    t.match(text, /casa_distro_admin/, args.join(' '))
    t.same(escapes(text), [], `${args.join(' ')}: plain text in the file`)
    const piped = await inTerminal(`stty cols 80 rows 24; node ${quote(binPath)} ${args.join(' ')} | cat`, env)
    t.same(escapes(piped.output), [], `${args.join(' ')} | cat: plain text`)
    const shown = await inTerminal(`stty cols 80 rows 24; node ${quote(binPath)} ${args.join(' ')}`, env)
    t.match(shown.output, /\x1b\[1mcasa_distro_admin/, `${args.join(' ')} on the terminal is bold`)
  }
})

t.test('ui.table paints for stdout, not for stderr', async (t) => {
  const { ui } = await import('../lib/util/ui.js')
  const saved = { out: process.stdout.isTTY, err: process.stderr.isTTY, noColor: process.env.NO_COLOR, term: process.env.TERM }
  t.teardown(() => {
    process.stdout.isTTY = saved.out
    process.stderr.isTTY = saved.err
    if (saved.noColor === undefined) delete process.env.NO_COLOR
    else process.env.NO_COLOR = saved.noColor
    process.env.TERM = saved.term
  })
  delete process.env.NO_COLOR
  process.env.TERM = 'xterm'
  process.stdout.isTTY = false
  process.stderr.isTTY = true
  t.same(escapes(ui.table(['image', 'result'], [['a', 'b']])), [], 'stdout piped, stderr a terminal: plain')
  process.stdout.isTTY = true
  process.stderr.isTTY = false
  t.match(ui.table(['image', 'result'], [['a', 'b']]), /\x1b\[1mimage/, 'stdout a terminal: bold headers')
  process.env.NO_COLOR = '1'
  t.same(escapes(ui.table(['image', 'result'], [['a', 'b']])), [], 'NO_COLOR: plain')
})
