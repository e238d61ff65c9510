// A second Ctrl-C exits at once, even while the first one's cleanup is stuck.
import t from 'tap'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { projectRoot, runProgram } from './helpers/cli.js'

t.test('second signal exits 130 while a cleanup never ends', async (t) => {
  const module = pathToFileURL(join(projectRoot, 'dist', 'lib', 'util', 'interrupt.js')).href
  const script = `
    const { installInterruptHandlers, onInterrupt } = await import(${JSON.stringify(module)})
    installInterruptHandlers()
    // two stuck cleanups: the second Ctrl-C comes once the first of them runs, and must not
    // wait for the other one either
    onInterrupt(() => new Promise(() => {}))
    onInterrupt(() => {
      process.kill(process.pid, 'SIGINT')
      return new Promise(() => {})
    })
    setInterval(() => {}, 1000)
    process.kill(process.pid, 'SIGINT')
  `
  // a stuck exit is killed at 10 s, which reports 128, not 130
  const r = await runProgram(process.execPath, ['--input-type=module', '-e', script], { kill: { signal: 'SIGKILL', afterMs: 10000 } })
  t.equal(r.code, 130, r.stderr)
  t.match(r.stderr, /interrupted \(SIGINT\), cleaning up/)
})

// Work goes on while the first cleanups run (a lock released over the network takes a round
// trip): an upload that starts meanwhile registers its temporary file then, and a lock whose
// creation was on the wire registers its release then. Those cleanups must run too.
t.test('a cleanup registered while the others run is run before exiting', async (t) => {
  const module = pathToFileURL(join(projectRoot, 'dist', 'lib', 'util', 'interrupt.js')).href
  const script = `
    const { installInterruptHandlers, onInterrupt } = await import(${JSON.stringify(module)})
    installInterruptHandlers()
    // the running cleanup yields to the event loop, where other work registers a cleanup
    onInterrupt(async () => {
      await new Promise((resolve) => setImmediate(resolve))
      onInterrupt(() => process.stdout.write('late cleanup ran\\n'))
      await new Promise((resolve) => setImmediate(resolve))
    })
    setInterval(() => {}, 1000)
    process.kill(process.pid, 'SIGINT')
  `
  const r = await runProgram(process.execPath, ['--input-type=module', '-e', script], { kill: { signal: 'SIGKILL', afterMs: 10000 } })
  t.equal(r.code, 130, r.stderr)
  t.match(r.stdout, /late cleanup ran/)
})

t.test('SIGTERM exits 143 (128 + 15), as a shell reports a process it ended', async (t) => {
  const module = pathToFileURL(join(projectRoot, 'dist', 'lib', 'util', 'interrupt.js')).href
  const script = `
    const { installInterruptHandlers, onInterrupt } = await import(${JSON.stringify(module)})
    installInterruptHandlers()
    onInterrupt(() => process.stdout.write('cleanup ran\\n'))
    setInterval(() => {}, 1000)
    process.kill(process.pid, 'SIGTERM')
  `
  const r = await runProgram(process.execPath, ['--input-type=module', '-e', script], { kill: { signal: 'SIGKILL', afterMs: 10000 } })
  t.equal(r.code, 143, r.stderr)
  t.match(r.stdout, /cleanup ran/)
  t.match(r.stderr, /interrupted \(SIGTERM\), cleaning up/)
})
