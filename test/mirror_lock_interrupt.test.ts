// Ctrl-C or SIGTERM while a mirror holds its lock, before anything was uploaded, or while it
// releases it: the lock is released and the directories made for it (the hub path and its
// missing parents) are removed, as a run that fails removes them. Played by a node process that takes the lock
// through the compiled modules, then signals itself: the moment is then exact, which a
// publish_build_workflows killed from outside cannot make it (its lock and its first upload
// are a few milliseconds apart). Real sshd and a real directory for the hubs.
import t from 'tap'
import { existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { projectRoot, runProgram } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

const dist = (name: string) => JSON.stringify(pathToFileURL(join(projectRoot, 'dist', 'lib', name)).href)

/** Script text: interruptedHere() sends SIGINT to its own process and resolves once the handler has aborted the run. */
const interruptedHere = `const interruptedHere = () => new Promise((resolve) => {
      interruptSignal.addEventListener('abort', resolve, { once: true })
      process.kill(process.pid, 'SIGINT')
    })`

/** A process that opens `url`, locks `dir` on it, then sends itself `signal`. */
function lockThenSignal(url: string, dir: string, signal: 'SIGINT' | 'SIGTERM') {
  const script = `
    const { installInterruptHandlers } = await import(${dist('util/interrupt.js')})
    const { openHub } = await import(${dist('hubs/transport.js')})
    const { lockMirror } = await import(${dist('hubs/mirrorLock.js')})
    installInterruptHandlers()
    const hub = await openHub(${JSON.stringify(url)}, { identityFile: ${JSON.stringify(sshd.clientKey)}, knownHosts: ${JSON.stringify(sshd.knownHosts)} })
    await lockMirror(hub, ${JSON.stringify(dir)}, { task: 'test' })
    process.stdout.write('locked\\n')
    setInterval(() => {}, 1000)
    process.kill(process.pid, ${JSON.stringify(signal)})
  `
  return runProgram(process.execPath, ['--input-type=module', '-e', script], { env: { SSH_AUTH_SOCK: '' }, kill: { signal: 'SIGKILL', afterMs: 20000 } })
}

/**
 * A process whose lock is written on the hub, but interrupted before lockMirror has its answer:
 * the hub's createNew is the real one, then sends SIGINT to its own process and goes on only
 * once the interrupt handler has run (so that the signal lands in that window).
 */
function interruptedWhileLocking(url: string, dir: string) {
  const script = `
    const { installInterruptHandlers, interruptSignal } = await import(${dist('util/interrupt.js')})
    ${interruptedHere}
    const { openHub } = await import(${dist('hubs/transport.js')})
    const { lockMirror } = await import(${dist('hubs/mirrorLock.js')})
    installInterruptHandlers()
    const real = await openHub(${JSON.stringify(url)}, { identityFile: ${JSON.stringify(sshd.clientKey)}, knownHosts: ${JSON.stringify(sshd.knownHosts)} })
    const hub = { ...real, async createNew(text, path) {
      const created = await real.createNew(text, path)
      process.stdout.write('lock written\\n')
      await interruptedHere()
      return created
    } }
    setInterval(() => {}, 1000)
    await lockMirror(hub, ${JSON.stringify(dir)}, { task: 'test' })
  `
  return runProgram(process.execPath, ['--input-type=module', '-e', script], { env: { SSH_AUTH_SOCK: '' }, kill: { signal: 'SIGKILL', afterMs: 20000 } })
}

/**
 * A process interrupted while it releases its lock (its run ended as the signal came): the
 * hub's readText, which the release reads the lock back with, sends SIGINT to its own process
 * and does the real read once the interrupt handler has run, so that the signal lands in that window.
 */
function interruptedWhileReleasing(url: string, dir: string) {
  const script = `
    const { installInterruptHandlers, interruptSignal } = await import(${dist('util/interrupt.js')})
    ${interruptedHere}
    const { openHub } = await import(${dist('hubs/transport.js')})
    const { lockMirror } = await import(${dist('hubs/mirrorLock.js')})
    installInterruptHandlers()
    const real = await openHub(${JSON.stringify(url)}, { identityFile: ${JSON.stringify(sshd.clientKey)}, knownHosts: ${JSON.stringify(sshd.knownHosts)} })
    const hub = { ...real, async readText(path) {
      process.stdout.write('releasing\\n')
      await interruptedHere()
      return real.readText(path)
    } }
    setInterval(() => {}, 1000)
    const unlock = await lockMirror(hub, ${JSON.stringify(dir)}, { task: 'test' })
    await unlock()
  `
  return runProgram(process.execPath, ['--input-type=module', '-e', script], { env: { SSH_AUTH_SOCK: '' }, kill: { signal: 'SIGKILL', afterMs: 20000 } })
}

for (const scheme of ['sftp', 'file'] as const) {
  t.test(`${scheme} hub: interrupted while the lock is being released, nothing is left`, async (t) => {
    const parent = scheme === 'sftp' ? join(sshd.root, `releasing-${Date.now()}`) : tempDir(t, 'casa-lock-releasing-')
    mkdirSync(parent, { recursive: true })
    const hubRoot = join(parent, 'new', 'hub')
    const r = await interruptedWhileReleasing(scheme === 'sftp' ? sftpUrl(sshd, hubRoot) : `file://${hubRoot}`, 'brainvisa/master_ubuntu-22.04')
    t.match(r.stdout, /releasing/, r.stderr)
    t.equal(r.code, 130, r.stderr)
    t.same(readdirSync(parent), [], 'the exit waited for the release: neither the lock nor the directories made for it are left')
  })

  t.test(`${scheme} hub: interrupted while the lock is being taken, nothing is left`, async (t) => {
    const parent = scheme === 'sftp' ? join(sshd.root, `taking-${Date.now()}`) : tempDir(t, 'casa-lock-taking-')
    mkdirSync(parent, { recursive: true })
    const hubRoot = join(parent, 'new', 'hub')
    const r = await interruptedWhileLocking(scheme === 'sftp' ? sftpUrl(sshd, hubRoot) : `file://${hubRoot}`, 'brainvisa/master_ubuntu-22.04')
    t.match(r.stdout, /lock written/, r.stderr)
    t.equal(r.code, 130, r.stderr)
    t.same(readdirSync(parent), [], 'neither the lock nor the directories made for it are left')
  })

  t.test(`${scheme} hub: interrupted while holding a fresh lock, nothing is left`, async (t) => {
    const parent = scheme === 'sftp' ? join(sshd.root, `fresh-${Date.now()}`) : tempDir(t, 'casa-lock-int-')
    mkdirSync(parent, { recursive: true })
    mkdirSync(join(parent, 'kept'))
    const hubRoot = join(parent, 'new', 'hub')
    const url = scheme === 'sftp' ? sftpUrl(sshd, hubRoot) : `file://${hubRoot}`
    for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
      const r = await lockThenSignal(url, 'brainvisa/master_ubuntu-22.04', signal)
      t.match(r.stdout, /locked/, r.stderr)
      t.equal(r.code, code, r.stderr)
      t.same(readdirSync(parent), ['kept'], `${signal}: the directories made for the lock are gone, the one that was there stays`)
      t.notOk(existsSync(join(parent, 'new')))
    }
  })
}
