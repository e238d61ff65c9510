// The lock of a killed mirror run is taken over by the next run, and by one run only: two
// re-runs that find the same dead lock must not both end up holding the lock (the slower one
// removing the lock the faster one has just taken). Played by node processes taking the lock
// through the compiled modules on a real file:// hub: the first is held just before it
// removes the dead lock (its hub's remove waits for a line on stdin), the second runs then;
// the moment is exact, which two publish_build_workflows started from outside cannot make it.
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { projectRoot } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const dist = (name: string) => JSON.stringify(pathToFileURL(join(projectRoot, 'dist', 'lib', name)).href)

/** A process taking the lock of `dir`; with `holdRemove`, its removal of the lock waits for a line on stdin. Prints `locked <pid>` or `refused: ...`, then waits for stdin's end. */
function taker(url: string, dir: string, holdRemove: boolean) {
  const script = `
    import { createInterface } from 'node:readline'
    const { openHub } = await import(${dist('hubs/transport.js')})
    const { lockMirror } = await import(${dist('hubs/mirrorLock.js')})
    const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
    const real = await openHub(${JSON.stringify(url)}, {})
    const hub = { ...real, async remove(path) {
      if (${holdRemove} && path.endsWith('/.casa-mirror.lock')) {
        process.stdout.write('about to remove the lock\\n')
        await lines.next()
      }
      return real.remove(path)
    } }
    try {
      const unlock = await lockMirror(hub, ${JSON.stringify(dir)}, { task: 'test' })
      process.stdout.write('locked ' + process.pid + '\\n')
      await lines.next()
      await unlock()
    } catch (error) {
      process.stdout.write('refused: ' + error.message + '\\n')
    }
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const waiters: { pattern: RegExp; resolve: () => void }[] = []
  child.stdout.on('data', (c) => {
    stdout += c
    for (const w of waiters.filter((w) => w.pattern.test(stdout))) w.resolve()
  })
  child.stderr.on('data', (c) => (stderr += c))
  const ended = new Promise<void>((resolve) => child.on('close', () => resolve()))
  return {
    child,
    output: () => stdout + stderr,
    /** Resolves once stdout matches `pattern` (a line the process printed: the event). */
    said: (pattern: RegExp) => new Promise<void>((resolve, reject) => {
      if (pattern.test(stdout)) return resolve()
      waiters.push({ pattern, resolve })
      void ended.then(() => reject(new Error(`ended without saying ${pattern}: ${stdout}${stderr}`)))
    }),
    ended,
  }
}

t.test('two re-runs finding the same dead lock: one takes it over, the other is refused', async (t) => {
  const root = tempDir(t, 'casa-lock-takeover-')
  const dir = 'brainvisa/master'
  mkdirSync(join(root, dir), { recursive: true })
  const deadPid = spawnSync('true').pid!
  const lockPath = join(root, dir, '.casa-mirror.lock')
  writeFileSync(lockPath, `${JSON.stringify({ task: 'publish_build_workflows', user: 'root', host: hostname(), pid: deadPid, started: '2026-12-04T00:00:00.000Z' })}\n`)

  const first = taker(`file://${root}`, dir, true)
  t.teardown(() => first.child.kill('SIGKILL'))
  await first.said(/about to remove the lock/)
  const second = taker(`file://${root}`, dir, false)
  t.teardown(() => second.child.kill('SIGKILL'))
  await second.said(/locked|refused/)
  first.child.stdin.write('go on\n')
  await first.said(/locked|refused/)

  const holders = [first, second].filter((p) => /locked/.test(p.output()))
  t.equal(holders.length, 1, `one run holds the lock (first: ${first.output().trim()}; second: ${second.output().trim()})`)
  const refused = [first, second].filter((p) => /refused/.test(p.output()))
  t.equal(refused.length, 1, 'the other is refused')
  t.match(refused[0]?.output() ?? '', /refused: .*another run/, 'saying another run has it')
  const holderPid = Number(/locked (\d+)/.exec(holders[0]?.output() ?? '')?.[1])
  t.equal(JSON.parse(readFileSync(lockPath, 'utf8')).pid, holderPid, 'the lock on the hub is the holder\'s')
  for (const p of [first, second]) p.child.stdin.end()
  await Promise.all([first.ended, second.ended])
})
