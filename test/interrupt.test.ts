// A second Ctrl-C exits at once, even while the first one's cleanup is stuck.
import t from 'tap'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { projectRoot, runProgram } from './helpers/cli.js'

t.test('second signal exits 130 while a cleanup never ends', async (t) => {
  const module = pathToFileURL(join(projectRoot, 'dist', 'lib', 'interrupt.js')).href
  const script = `
    const { installInterruptHandlers, onInterrupt } = await import(${JSON.stringify(module)})
    installInterruptHandlers()
    onInterrupt(() => new Promise(() => {}))
    setInterval(() => {}, 1000)
    process.kill(process.pid, 'SIGINT')
    setTimeout(() => process.kill(process.pid, 'SIGINT'), 200)
  `
  const started = Date.now()
  const r = await runProgram(process.execPath, ['--input-type=module', '-e', script], { kill: { signal: 'SIGKILL', afterMs: 10000 } })
  t.equal(r.code, 130, r.stderr)
  t.match(r.stderr, /interrupted \(SIGINT\), cleaning up/)
  t.ok(Date.now() - started < 8000, 'did not wait for the stuck cleanup')
})
