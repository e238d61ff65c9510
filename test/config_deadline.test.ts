// A casa.config.ts that loops forever or awaits what never settles: the run ends after
// CASA_CONFIG_TIMEOUT seconds with one line naming the file, and Ctrl-C / SIGTERM end it at
// once (they used to be ignored: only SIGKILL ended a looping config). The real CLI.
import t from 'tap'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, watch, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { binPath, projectRoot, runCli } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const dir = tempDir(t, 'casa-config-deadline-')
const home = join(dir, 'home')
mkdirSync(home)
const marker = join(dir, 'loading')
const configs = {
  loop: `import { writeFileSync } from 'node:fs'\nwriteFileSync(${JSON.stringify(marker)}, '')\nwhile (true) {}\nexport default {}\n`,
  never: `await new Promise(() => {})\nexport default {}\n`,
  loopingFunction: `export default () => { while (true) {} }\n`,
}
for (const [name, text] of Object.entries(configs)) writeFileSync(join(dir, `${name}.ts`), text)
const env = (name: string, extra: Record<string, string> = {}) => ({ HOME: home, CASA_CONFIG: join(dir, `${name}.ts`), ...extra })

// A safety net only (never an expectation): without the bound these runs would never end.
const safety = { kill: { signal: 'SIGKILL' as const, afterMs: 60_000 } }

t.test('a config that loops, or never settles, ends after CASA_CONFIG_TIMEOUT with one line', async (t) => {
  for (const name of ['loop', 'never', 'loopingFunction']) {
    const r = await runCli(['show_config'], { env: env(name, { CASA_CONFIG_TIMEOUT: '1' }), ...safety })
    t.not(r.code, 0, `${name}: a failure`)
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('error:'))
    t.same(errors, [`error: ${join(dir, `${name}.ts`)} did not finish loading in 1 s (a loop, or an await that never settles?): CASA_CONFIG_TIMEOUT=<seconds> to wait longer`], `${name}: one line naming the file`)
  }
})

t.test('a bad CASA_CONFIG_TIMEOUT is a usage error', async (t) => {
  for (const value of ['abc', '0', '-1', '1e9']) {
    const r = await runCli(['show_config'], { env: env('never', { CASA_CONFIG_TIMEOUT: value }) })
    t.equal(r.code, 2, `${value}: exit 2`)
    t.match(r.stderr, `CASA_CONFIG_TIMEOUT=${value}: expected a number of seconds`)
  }
})

t.test('Ctrl-C and SIGTERM end a looping config at once', async (t) => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    // Through sh, to drop NODE_OPTIONS: the test runner puts its own hooks in every node child it
    // sees spawned, and their SIGTERM handler (JavaScript, stuck behind the loop) is not a user's.
    const child = spawn('/bin/sh', ['-c', 'unset NODE_OPTIONS; exec "$0" "$@"', process.execPath, binPath, 'show_config'], { cwd: projectRoot, env: { ...process.env, ...env('loop'), CI: 'true' }, stdio: 'ignore' })
    const safetyNet = setTimeout(() => child.kill('SIGKILL'), 60_000)
    // the config wrote its marker: it is looping now
    await new Promise<void>((resolve) => {
      const watcher = watch(dir, () => existsSync(marker) && (watcher.close(), resolve()))
      if (existsSync(marker)) (watcher.close(), resolve())
    })
    const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)))
    child.kill(signal)
    t.equal(await ended, signal, `${signal} ended it`)
    clearTimeout(safetyNet)
    await import('node:fs').then((fs) => fs.rmSync(marker, { force: true }))
  }
})

t.test('a config that loaded fine, then edited into a loop, is still bounded', async (t) => {
  // A plain-object config that loaded within the bound loads without the watchdog thread
  // next time (configCache.ts); an edit makes it a new bundle, watched again.
  const file = join(dir, 'edited.ts')
  writeFileSync(file, `export default { namespace: 'fine' }\n`)
  for (const run of ['first load', 'proven']) {
    const r = await runCli(['show_config'], { env: env('edited', { CASA_CONFIG_TIMEOUT: '1' }), ...safety })
    t.equal(r.code, 0, `${run}: ${r.stderr}`)
    t.match(r.stdout, /namespace: fine/, `${run}: the config applies`)
  }
  writeFileSync(file, `export default { namespace: 'fine' }\nwhile (true) {}\n`)
  const r = await runCli(['show_config'], { env: env('edited', { CASA_CONFIG_TIMEOUT: '1' }), ...safety })
  t.not(r.code, 0)
  t.same(r.stderr.split('\n').filter((l) => l.startsWith('error:')), [`error: ${file} did not finish loading in 1 s (a loop, or an await that never settles?): CASA_CONFIG_TIMEOUT=<seconds> to wait longer`])
})
