// The shells that run release-plan git commands (lib/git/gitShell.ts), with real git and sh: one
// shell serves component after component, including `git cat-file --batch` stopped in the
// middle of the shell's life; a failed command fails its step only; a cat-file that fails,
// or one stopped with questions unanswered, breaks its shell, and the pool starts another.
import t from 'tap'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { infoPyVersion, TestRemote } from './helpers/git.js'
import { tempDir } from './helpers/tmp.js'
import { gitEnv, openMirror, updateMirror } from '../lib/git/gitMirror.js'
import { GitSession } from '../lib/git/gitSession.js'
import { GitShellPool } from '../lib/git/gitShell.js'
import { Slots } from '../lib/util/slots.js'
import { ui } from '../lib/util/ui.js'

t.test('one shell serves components one after another, objects read between other steps', async (t) => {
  const root = tempDir(t, 'casa-shell-')
  const remotes = ['a', 'b', 'c'].map((name) => {
    const remote = new TestRemote(root, name)
    return { remote, name, revision: remote.commit('master', { 'python/x/info.py': infoPyVersion(`1.0.${name.charCodeAt(0)}`) }) }
  })
  const pool = new GitShellPool(1, gitEnv())
  t.teardown(() => pool.close())
  for (const round of ['cold', 'warm']) {
    for (const { remote, name, revision } of remotes) {
      const { refs, session } = await openMirror(join(root, 'mirrors', `${name}.git`), remote.url, { pool })
      try {
        t.equal(refs.branches.get('master'), revision, `${round} ${name}: refs`)
        const file = await session.objects().read(`${revision}:python/x/info.py`)
        t.equal(file?.data.toString(), infoPyVersion(`1.0.${name.charCodeAt(0)}`), `${round} ${name}: a file read through cat-file`)
      } finally {
        await session.close()
      }
    }
  }
  t.equal(pool.spawned, 1, 'six mirrors opened and read by a single shell')
})

t.test('a failed command fails its step, with git\'s reason, and the shell goes on', async (t) => {
  const root = tempDir(t, 'casa-shell-fail-')
  const remote = new TestRemote(root, 'ok')
  remote.commit('master', { 'a.txt': '1' })
  const pool = new GitShellPool(1, gitEnv())
  t.teardown(() => pool.close())
  const gone = await GitSession.open(join(root, 'nothing.git'), { url: `file://${root}/nowhere.git`, temporary: '' }, { pool })
  await t.rejects(gone.lsRemote(), /^git ls-remote failed \(exit 128\): fatal: .*nowhere\.git/)
  await t.rejects(gone.refs(), /^git for-each-ref failed \(exit 128\)/, 'a mirror that does not exist')
  await gone.close()
  const { refs, session } = await openMirror(join(root, 'ok.git'), remote.url, { pool })
  await session.close()
  t.ok(refs.branches.get('master'), 'the next component is read')
  t.equal(pool.spawned, 1, 'by the same shell')
})

t.test('cat-file failing, or stopped with questions unanswered, breaks its shell: the pool starts another', async (t) => {
  const root = tempDir(t, 'casa-shell-break-')
  const remote = new TestRemote(root, 'ok')
  const revision = remote.commit('master', { 'a.txt': '1' })
  const pool = new GitShellPool(1, gitEnv())
  t.teardown(() => pool.close())
  const notRepository = join(root, 'empty')
  mkdirSync(notRepository)

  const broken = await GitSession.open(notRepository, { url: remote.url, temporary: '' }, { pool })
  await t.rejects(broken.objects().read('HEAD'), /^git cat-file failed \(exit 128\): fatal: not a git repository/)
  await broken.close()

  const { session } = await openMirror(join(root, 'ok.git'), remote.url, { pool })
  t.equal((await session.objects().read(`${revision}:a.txt`))?.data.toString(), '1', 'a new shell reads')
  const unanswered = session.objects().read(`${revision}:a.txt`)
  await session.close()
  await t.rejects(unanswered, /stopped with requests unanswered/, 'a question asked then left: an error, never a wrong answer')
  t.equal(pool.spawned, 2)

  const again = await GitSession.open(join(root, 'ok.git'), { url: remote.url, temporary: '' }, { pool })
  t.match(await again.refs(), /^refs\/heads\/master [0-9a-f]{40} \n$/, 'and another one after that')
  await again.close()
  t.equal(pool.spawned, 3)
})

t.test('an interrupt stops the shells', async (t) => {
  const root = tempDir(t, 'casa-shell-abort-')
  const remote = new TestRemote(root, 'ok')
  remote.commit('master', { 'a.txt': '1' })
  const abort = new AbortController()
  const pool = new GitShellPool(2, gitEnv(), abort.signal)
  const session = await GitSession.open(join(root, 'ok.git'), { url: remote.url, temporary: join(root, 'ok.tmp') }, { pool })
  await session.clone()
  abort.abort()
  await t.rejects(session.lsRemote(), /failed/, 'the step after the interrupt fails')
  await session.close()
  await pool.close()
})

t.test('the commands that reach the remote each hold one of the shared connection\'s sessions; local ones do not', async (t) => {
  const root = tempDir(t, 'casa-shell-sessions-')
  const remotes = ['a', 'b', 'c'].map((name) => new TestRemote(root, name))
  for (const remote of remotes) remote.commit('master', { 'a.txt': remote.name })
  const mirror = (name: string) => join(root, 'mirrors', `${name}.git`)
  for (const remote of remotes) await updateMirror(mirror(remote.name), remote.url)
  // the steps are seen as they are sent to the shells: -v echoes each one right then
  const echoed: string[] = []
  const write = process.stderr.write
  ui.configure({ verbose: true })
  process.stderr.write = ((chunk: string | Uint8Array) => echoed.push(String(chunk)) > 0) as typeof process.stderr.write
  t.teardown(() => {
    process.stderr.write = write
    ui.configure({ verbose: false })
  })
  const sent = (command: string) => echoed.filter((line) => line.includes(` ${command} `)).length
  const pool = new GitShellPool(3, gitEnv())
  t.teardown(() => pool.close())
  const sessions = new Slots(1)
  const [a, b, c] = await Promise.all(remotes.map((remote) => GitSession.open(mirror(remote.name), { url: remote.url, temporary: '' }, { pool, sessions })))
  const first = a!.lsRemote()
  const second = b!.lsRemote()
  const local = c!.refs()
  t.equal(sent('ls-remote'), 1, "b's ls-remote waits for a's session")
  t.equal(sent('for-each-ref'), 1, 'a local step does not wait')
  t.match(await first, /refs\/heads\/master/)
  t.match(await second, /refs\/heads\/master/, "b's ls-remote runs once a's has ended")
  t.equal(sent('ls-remote'), 2)
  t.match(await local, /refs\/heads\/master/)
  await Promise.all([a, b, c].map((s) => s!.close()))
})
