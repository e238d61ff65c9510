// publish_build_workflows end to end against OpenSSH sshd: mirror with deletions, a second
// run that transfers nothing, --dry-run, checksum=1, and an upload killed half way (the old
// file stays whole, readers never see a partial file, the re-run completes and cleans up),
// the lock that keeps a second run out of a directory being mirrored, and what a failed run
// leaves behind.
import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { binPath, runCli, type CliResult } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { proxiedSshd, sftpBatch, sftpGet, sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex')

function tree(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .sort()
    .flatMap((name) => (statSync(join(dir, name)).isDirectory() ? tree(join(dir, name), `${prefix}${name}/`) : [`${prefix}${name}`]))
}

function write(root: string, path: string, data: string | Buffer) {
  mkdirSync(join(root, path, '..'), { recursive: true })
  writeFileSync(join(root, path), data)
}

/** publish_build_workflows run in the background, and its exit code once it ends. */
function startPublish(local: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [binPath, '-r', local, 'publish_build_workflows'], { env: { ...process.env, ...env, NO_COLOR: '1', CI: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  const waiters: { pattern: RegExp; resolve: () => void }[] = []
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    for (const w of waiters.filter((w) => w.pattern.test(stderr))) waiters.splice(waiters.indexOf(w), 1), w.resolve()
  })
  /** Resolves once the run's stderr matches `pattern` (the event a test waits for, not a delay). */
  const printed = (pattern: RegExp) => (pattern.test(stderr) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ pattern, resolve })))
  return { child, printed, exited: new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code))) }
}

/**
 * The size of the temporary file of the upload of `name` into `dir` once it holds more than
 * `bytes` (0 if that never happens within 12 s). Called once the run's connection is held by
 * the proxy, so the file can only grow to the hold point: this waits for the server to have
 * written what it received, never for the run to be "still running".
 */
async function uploadPast(dir: string, name: string, bytes: number): Promise<number> {
  for (let i = 0; i < 600; i++) {
    const temp = readdirSync(dir).find((n) => n.startsWith(`.${name}.casa-tmp-`))
    const size = temp ? (statSync(join(dir, temp), { throwIfNoEntry: false })?.size ?? 0) : 0
    if (size > bytes) return size
    await new Promise((r) => setTimeout(r, 20))
  }
  return 0
}

t.test('mirror with deletions; second run transfers nothing; dry run; checksum', async (t) => {
  const remoteRoot = join(sshd.root, 'bw')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, remoteRoot)}' } }, ${sshConfig(sshd)} }`)
  const local = repo.dir
  write(local, 'brainvisa/master_ubuntu-22.04/conf/casa_distro.json', '{"distro":"brainvisa"}')
  write(local, 'brainvisa/master_ubuntu-22.04/conf/bv_maker.cfg', '[ source $CASA_SRC ]\n')
  write(local, 'brainvisa/master_ubuntu-22.04/data/big.bin', randomBytes(300_000))
  write(local, 'brainvisa/master_ubuntu-22.04/old/gone.txt', 'to delete')
  for (const name of ['sub/a.txt', 'sub/b.txt', 'sub/deeper/c.txt']) write(local, `brainvisa/master_ubuntu-22.04/old/${name}`, name)
  write(local, 'brainvisa/5.1_ubuntu-18.04/conf/casa_distro.json', '{}')
  write(local, 'opensource/master_ubuntu-22.04/conf/casa_distro.json', '{}')
  write(local, 'notaworkflow/x_y/readme.txt', 'no conf/casa_distro.json here')

  const dry = await runCli(['-r', local, 'publish_build_workflows', 'distro=brainvisa', 'branch=master', '--dry-run'], { env: repo.env })
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, /upload\s+brainvisa\/master_ubuntu-22\.04\/data\/big\.bin\s+300\.0 kB \(new\)/)
  t.notMatch(dry.stdout, /5\.1_ubuntu/, 'the branch filter applies')
  t.notOk(existsSync(remoteRoot), 'a dry run changes nothing')

  const first = await runCli(['-r', local, 'publish_build_workflows', 'system=ubuntu-22.04'], { env: repo.env })
  t.equal(first.code, 0, first.stderr)
  t.same(tree(remoteRoot), [
    'brainvisa/master_ubuntu-22.04/conf/bv_maker.cfg',
    'brainvisa/master_ubuntu-22.04/conf/casa_distro.json',
    'brainvisa/master_ubuntu-22.04/data/big.bin',
    'brainvisa/master_ubuntu-22.04/old/gone.txt',
    'brainvisa/master_ubuntu-22.04/old/sub/a.txt',
    'brainvisa/master_ubuntu-22.04/old/sub/b.txt',
    'brainvisa/master_ubuntu-22.04/old/sub/deeper/c.txt',
    'opensource/master_ubuntu-22.04/conf/casa_distro.json',
  ])
  t.match(first.stderr, /brainvisa\/master_ubuntu-22\.04: 7 uploaded \(300\.\d kB\), 0 deleted/)
  const big = readFileSync(join(local, 'brainvisa/master_ubuntu-22.04/data/big.bin'))
  t.equal(sha(sftpGet(sshd, `${remoteRoot}/brainvisa/master_ubuntu-22.04/data/big.bin`, tempDir(t))), sha(big), 'OpenSSH sftp reads the same bytes')
  t.match(sftpBatch(sshd, [`ls -l ${remoteRoot}/brainvisa/master_ubuntu-22.04/data`]), /-rw-r--r-- .* 300000 /)

  const again = await runCli(['-r', local, 'publish_build_workflows', 'system=ubuntu-22.04'], { env: repo.env })
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, /brainvisa\/master_ubuntu-22\.04: 0 uploaded \(0 B\), 0 deleted, 7 unchanged/, 'the second run transfers nothing')
  t.match(again.stderr, /opensource\/master_ubuntu-22\.04: 0 uploaded \(0 B\), 0 deleted, 1 unchanged/)

  // a deletion, a change, a new file, and a stale temporary file of an interrupted run
  rmSync(join(local, 'brainvisa/master_ubuntu-22.04/old'), { recursive: true })
  write(local, 'brainvisa/master_ubuntu-22.04/conf/casa_distro.json', '{"distro":"brainvisa","v":2}')
  write(local, 'brainvisa/master_ubuntu-22.04/conf/new.txt', 'new')
  write(remoteRoot, 'brainvisa/master_ubuntu-22.04/data/.big.bin.casa-tmp-999-abc', 'partial')
  const planned = await runCli(['-r', local, 'publish_build_workflows', 'distro=brainvisa', 'branch=master', '--dry-run'], { env: repo.env })
  t.equal(planned.code, 0, planned.stderr)
  t.match(planned.stdout, /upload\s+brainvisa\/master_ubuntu-22\.04\/conf\/casa_distro\.json\s+\S+ B \(size\)/)
  t.match(planned.stdout, /upload\s+brainvisa\/master_ubuntu-22\.04\/conf\/new\.txt/)
  t.match(planned.stdout, /delete\s+brainvisa\/master_ubuntu-22\.04\/old\/gone\.txt/)
  t.match(planned.stdout, /delete\s+brainvisa\/master_ubuntu-22\.04\/old\n/)
  t.match(planned.stdout, /delete\s+brainvisa\/master_ubuntu-22\.04\/data\/\.big\.bin\.casa-tmp-999-abc/)
  t.ok(planned.stdout.indexOf('upload') < planned.stdout.indexOf('delete'), 'uploads are listed before deletions')
  const deletedAt = (dir: string) => planned.stdout.search(new RegExp(`delete\\s+brainvisa/master_ubuntu-22\\.04/${dir}\n`))
  t.ok(deletedAt('old/sub/deeper') > planned.stdout.indexOf('old/sub/deeper/c.txt'), 'a directory after the files in it')
  t.ok(deletedAt('old/sub/deeper') < deletedAt('old/sub') && deletedAt('old/sub') < deletedAt('old'), 'directories deepest first')
  const third = await runCli(['-r', local, 'publish_build_workflows', 'distro=brainvisa', 'branch=master'], { env: repo.env })
  t.equal(third.code, 0, third.stderr)
  t.match(third.stderr, /2 uploaded \(\d+ B\), 8 deleted, 2 unchanged/)
  t.same(tree(join(remoteRoot, 'brainvisa')), ['master_ubuntu-22.04/conf/bv_maker.cfg', 'master_ubuntu-22.04/conf/casa_distro.json', 'master_ubuntu-22.04/conf/new.txt', 'master_ubuntu-22.04/data/big.bin'])
  t.equal(readFileSync(join(remoteRoot, 'brainvisa/master_ubuntu-22.04/conf/casa_distro.json'), 'utf8'), '{"distro":"brainvisa","v":2}')

  // same size and same mtime but other bytes: only checksum=1 sees it
  const cfg = join(local, 'brainvisa/master_ubuntu-22.04/conf/bv_maker.cfg')
  const { mtime } = statSync(cfg)
  writeFileSync(cfg, '[ source $CASA_XXX ]\n')
  utimesSync(cfg, mtime, mtime)
  const bySize = await runCli(['-r', local, 'publish_build_workflows', 'distro=brainvisa', 'branch=master', '--dry-run'], { env: repo.env })
  t.match(bySize.stdout, /up to date/, 'size and mtime equal: seen as up to date')
  const byChecksum = await runCli(['-r', local, 'publish_build_workflows', 'distro=brainvisa', 'branch=master', 'checksum=1'], { env: repo.env })
  t.equal(byChecksum.code, 0, byChecksum.stderr)
  t.match(byChecksum.stderr, /1 uploaded \(21 B\), 0 deleted, 3 unchanged/)
  t.equal(readFileSync(join(remoteRoot, 'brainvisa/master_ubuntu-22.04/conf/bv_maker.cfg'), 'utf8'), '[ source $CASA_XXX ]\n')

  const none = await runCli(['-r', local, 'publish_build_workflows', 'distro=nothing'], { env: repo.env })
  t.equal(none.code, 1)
  t.match(none.stderr, /^error: No build workflow match distro="nothing" branch="\*" system="\*" in /)
})

t.test('an upload killed half way leaves the old file whole; readers never see a partial file; the re-run completes', async (t) => {
  const remoteRoot = join(sshd.root, 'kill')
  const via = await proxiedSshd(t, sshd)
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${via.url(remoteRoot)}' } }, ${via.sshConfig} }`)
  const local = repo.dir
  const oldData = randomBytes(8_000_000)
  write(local, 'd/b_s/conf/casa_distro.json', '{}')
  write(local, 'd/b_s/big.bin', oldData)
  const first = await runCli(['-r', local, 'publish_build_workflows'], { env: repo.env })
  t.equal(first.code, 0, first.stderr)
  const remoteDir = join(remoteRoot, 'd', 'b_s')
  const newData = randomBytes(40_000_000)
  write(local, 'd/b_s/big.bin', newData)
  const [oldSha, newSha] = [sha(oldData), sha(newData)]

  // kill -9 while the run's connection is held after 20 MB sent: half way, whatever the speed
  via.proxy.arm({ kind: 'hold', direction: 'up', afterBytes: 20_000_000 })
  const { child, exited } = startPublish(local, repo.env)
  await via.proxy.fired()
  const killedAt = await uploadPast(remoteDir, 'big.bin', 0)
  child.kill('SIGKILL')
  await exited
  t.ok(killedAt > 0 && killedAt < newData.length, `killed half way (${killedAt} bytes in the temporary file)`)
  t.equal(sha(readFileSync(join(remoteDir, 'big.bin'))), oldSha, 'the old file is whole')
  t.ok(readdirSync(remoteDir).some((n) => n.includes('.casa-tmp-')), 'the killed run left its temporary file')
  t.match(JSON.parse(readFileSync(join(remoteDir, '.casa-mirror.lock'), 'utf8')), { task: 'publish_build_workflows', pid: child.pid }, 'and its lock')

  // the re-run, with a reader polling the file all along
  let reading = true
  const seen = new Set<string>()
  const reader = (async () => {
    while (reading) {
      seen.add(sha(readFileSync(join(remoteDir, 'big.bin'))))
      await new Promise((r) => setImmediate(r))
    }
  })()
  const rerun = await runCli(['-r', local, 'publish_build_workflows'], { env: repo.env })
  reading = false
  await reader
  t.equal(rerun.code, 0, rerun.stderr)
  t.ok([...seen].every((s) => s === oldSha || s === newSha), `the reader saw only whole files (${seen.size} distinct)`)
  t.equal(sha(sftpGet(sshd, join(remoteDir, 'big.bin'), tempDir(t))), newSha, 'the new file is in place (read with OpenSSH sftp)')
  t.same(readdirSync(remoteDir).filter((n) => n.includes('.casa-tmp-')), [], 'the leftover temporary file was removed')
  t.match(rerun.stderr, new RegExp(`warning: .*/d/b_s/\\.casa-mirror\\.lock: removing the lock of publish_build_workflows by .*, pid ${child.pid}, .*which has ended`), 'the lock of the killed run (this machine, process gone) is taken over')
  t.notOk(existsSync(join(remoteDir, '.casa-mirror.lock')), 'the re-run released its lock')
})

t.test('Ctrl-C during an upload: exit 130, the temporary file is removed, the old file stays', async (t) => {
  const remoteRoot = join(sshd.root, 'sigint')
  const via = await proxiedSshd(t, sshd)
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${via.url(remoteRoot)}' } }, ${via.sshConfig} }`)
  const local = repo.dir
  write(local, 'd/b_s/conf/casa_distro.json', '{}')
  write(local, 'd/b_s/big.bin', 'old')
  t.equal((await runCli(['-r', local, 'publish_build_workflows'], { env: repo.env })).code, 0)
  write(local, 'd/b_s/big.bin', randomBytes(30_000_000))
  const remoteDir = join(remoteRoot, 'd', 'b_s')
  // Ctrl-C while the connection is held after 10 MB; released once the run says it is
  // cleaning up, so that its clean-up requests (and the held writes before them) go through
  via.proxy.arm({ kind: 'hold', direction: 'up', afterBytes: 10_000_000 })
  const { child, exited, printed } = startPublish(local, repo.env)
  await via.proxy.fired()
  const sent = (await uploadPast(remoteDir, 'big.bin', 0)) > 0
  child.kill('SIGINT')
  await printed(/interrupted \(SIGINT\), cleaning up/)
  via.proxy.release()
  t.ok(sent, 'interrupted during the upload')
  t.equal(await exited, 130)
  t.equal(readFileSync(join(remoteDir, 'big.bin'), 'utf8'), 'old', 'the old file is whole')
  t.same(readdirSync(remoteDir).filter((n) => n.includes('.casa-tmp-')), [], 'the temporary file was removed')
  t.notOk(existsSync(join(remoteDir, '.casa-mirror.lock')), 'the lock was released')
})

t.test('one run at a time per hub directory: a live holder refuses, a killed one is named, break_lock takes over', async (t) => {
  const remoteRoot = join(sshd.root, 'lock')
  const via = await proxiedSshd(t, sshd)
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${via.url(remoteRoot)}' } }, ${via.sshConfig} }`)
  const local = repo.dir
  write(local, 'd/b_s/conf/casa_distro.json', '{}')
  write(local, 'd/b_s/big.bin', randomBytes(1000))
  t.equal((await runCli(['-r', local, 'publish_build_workflows'], { env: repo.env })).code, 0)
  const remoteDir = join(remoteRoot, 'd', 'b_s')
  const lock = join(remoteDir, '.casa-mirror.lock')
  t.notOk(existsSync(lock), 'no lock after a run')
  t.notMatch(sftpBatch(sshd, [`ls -la ${remoteDir}`]), /casa-mirror\.lock|casa-tmp/, 'OpenSSH sftp sees no lock and no temporary file either')

  // Two runs at once: the second is refused while the first, holding the lock, is held by the
  // proxy half way through its upload; the first goes on once released.
  write(local, 'd/b_s/big.bin', randomBytes(20_000_000))
  via.proxy.arm({ kind: 'hold', direction: 'up', afterBytes: 5_000_000 })
  const { child: first, exited: firstExit } = startPublish(local, repo.env)
  await via.proxy.fired()
  t.ok(await uploadPast(remoteDir, 'big.bin', 0), 'the first run is uploading')
  const second = await runCli(['-r', local, 'publish_build_workflows'], { env: repo.env })
  via.proxy.release()
  t.equal(second.code, 1, 'the second run is refused')
  t.match(second.stderr, new RegExp(`error: sftp://.*/lock/d/b_s is being published by another run \\(publish_build_workflows by [^@]+@[^,]+, pid ${first.pid}, since [0-9T:.-]+Z\\): wait for it to end, or if it was killed, run again with break_lock=1\n$`))
  t.notMatch(second.stderr, /\n\s+at /, 'no stack trace')
  t.equal(await firstExit, 0, 'the first run completes, its temporary file untouched by the second')
  t.equal(sha(readFileSync(join(remoteDir, 'big.bin'))), sha(readFileSync(join(local, 'd/b_s/big.bin'))))
  t.notOk(existsSync(lock), 'the first run released its lock')

  // A lock of another machine is never guessed stale: refused, nothing changed, until break_lock=1.
  const foreign = `${JSON.stringify({ task: 'publish_build_workflows', user: 'builder', host: 'other-host.example', pid: 4242, started: '2026-01-02T03:04:05.000Z' })}\n`
  writeFileSync(lock, foreign)
  write(local, 'd/b_s/new.txt', 'new')
  const refused = await runCli(['-r', local, 'publish_build_workflows'], { env: repo.env })
  t.equal(refused.code, 1)
  t.match(refused.stderr, /is being published by another run \(publish_build_workflows by builder@other-host\.example, pid 4242, since 2026-01-02T03:04:05\.000Z\)/)
  t.notOk(existsSync(join(remoteDir, 'new.txt')), 'the refused run uploaded nothing')
  t.equal(readFileSync(lock, 'utf8'), foreign, 'and left the lock alone')
  const dry = await runCli(['-r', local, 'publish_build_workflows', '--dry-run'], { env: repo.env })
  t.equal(dry.code, 0, 'a dry run takes no lock')
  t.match(dry.stdout, /upload\s+d\/b_s\/new\.txt/)
  t.notMatch(dry.stdout, /casa-mirror\.lock/, 'the lock is not mirrored content')
  const broken = await runCli(['-r', local, 'publish_build_workflows', 'break_lock=1'], { env: repo.env })
  t.equal(broken.code, 0, broken.stderr)
  t.match(broken.stderr, /warning: .*\.casa-mirror\.lock: removing the lock of publish_build_workflows by builder@other-host\.example, pid 4242, .*\(break_lock\)/)
  t.match(broken.stderr, /1 uploaded \(3 B\), 0 deleted, 2 unchanged/, 'the lock is neither uploaded nor deleted as stale')
  t.notOk(existsSync(lock))

  // A holder of this machine that is alive (this test's process) is refused too.
  writeFileSync(lock, JSON.stringify({ task: 'publish_build_workflows', user: 'me', host: hostname(), pid: process.pid, started: 'now' }))
  const alive = await runCli(['-r', local, 'publish_build_workflows'], { env: repo.env })
  t.equal(alive.code, 1)
  t.match(alive.stderr, new RegExp(`pid ${process.pid}, since now\\)`))
  rmSync(lock)
})

/**
 * A local directory whose path is longer than PATH_MAX, so that reading it fails even as root
 * (these tests run as root, who reads every file whatever its mode): removed with rm -rf,
 * which walks it relative to each directory where Node's rmSync would fail on the length.
 */
function tooDeepDirectory(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'casa-deep-'))
  t.teardown(() => execFileSync('rm', ['-rf', dir]))
  // one level at a time, relative to the last: no shell's cd takes a path that long
  const script = `process.chdir(${JSON.stringify(dir)}); for (let i = 0; i < 18; i++) { fs.mkdirSync('x'.repeat(250)); process.chdir('x'.repeat(250)) }`
  execFileSync(process.execPath, ['-e', script])
  return dir
}

t.test('a run that fails before uploading removes the directories it made for its lock, only those, on sftp and file hubs', async (t) => {
  for (const scheme of ['sftp', 'file'] as const) {
    const top = join(sshd.root, `made-${scheme}`)
    mkdirSync(join(top, 'kept'), { recursive: true })
    const hubRoot = join(top, 'kept', 'new', 'root')
    const url = scheme === 'sftp' ? sftpUrl(sshd, hubRoot) : `file://${hubRoot}`
    const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${url}' } }, ${sshConfig(sshd)} }`)
    write(repo.dir, 'd/b_s/conf/casa_distro.json', '{}')
    symlinkSync(tooDeepDirectory(t), join(repo.dir, 'd/b_s/deep'))
    const failed = await runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env })
    t.equal(failed.code, 1, `${scheme}: the run fails`)
    t.match(failed.stderr, /\nerror: cannot read \/\S+\/x{250}: ENAMETOOLONG/, `${scheme}: on the local directory it cannot read`)
    t.same(readdirSync(join(top, 'kept')), [], `${scheme}: the directories made for the lock are gone, the one that was there stays`)

    // a target directory that was there before the run stays, even empty
    mkdirSync(join(hubRoot, 'd', 'b_s'), { recursive: true })
    const again = await runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env })
    t.equal(again.code, 1)
    t.same(readdirSync(join(hubRoot, 'd', 'b_s')), [], `${scheme}: the existing target is left, empty, without the lock`)
  }
})

t.test('links on the hub: to a directory followed; to a file or to nothing where a directory is expected, one line; a stale link removed as a link', async (t) => {
  for (const scheme of ['sftp', 'file'] as const) {
    const top = join(sshd.root, `links-${scheme}`)
    mkdirSync(join(top, 'real'), { recursive: true })
    writeFileSync(join(top, 'a-file'), 'not a directory')
    const hubAt = (path: string) => (scheme === 'sftp' ? sftpUrl(sshd, path) : `file://${path}`)
    // what a message names: the hub URL on sftp, the path on a file hub
    const named = (path: string) => (scheme === 'sftp' ? hubAt(path) : path)
    const repo = workflowRepository(t, '{}')
    write(repo.dir, 'd/b_s/conf/casa_distro.json', '{}')
    const publish = (root: string, ...args: string[]) => {
      writeFileSync(join(repo.dir, 'casa.config.ts'), `export default { hubs: { buildWorkflows: { upload: '${hubAt(root)}' } }, ${sshConfig(sshd)} }\n`)
      return runCli(['-r', repo.dir, 'publish_build_workflows', ...args], { env: repo.env })
    }

    // the hub root, and the mirrored directory, each a link to a directory: followed
    symlinkSync(join(top, 'real'), join(top, 'root-link'))
    const viaRootLink = await publish(join(top, 'root-link'))
    t.equal(viaRootLink.code, 0, viaRootLink.stderr)
    t.equal(readFileSync(join(top, 'real/d/b_s/conf/casa_distro.json'), 'utf8'), '{}', `${scheme}: a hub root that is a link to a directory is followed`)
    mkdirSync(join(top, 'wf/d'), { recursive: true })
    mkdirSync(join(top, 'wf-real'))
    symlinkSync(join(top, 'wf-real'), join(top, 'wf/d/b_s'))
    const viaWorkflowLink = await publish(join(top, 'wf'))
    t.equal(viaWorkflowLink.code, 0, viaWorkflowLink.stderr)
    t.ok(lstatSync(join(top, 'wf/d/b_s')).isSymbolicLink(), `${scheme}: the link stays a link`)
    t.equal(readFileSync(join(top, 'wf-real/conf/casa_distro.json'), 'utf8'), '{}', `${scheme}: the mirrored directory that is a link to a directory is followed`)

    // links where a directory is expected that lead to no directory
    symlinkSync(join(top, 'a-file'), join(top, 'root-to-file'))
    symlinkSync(join(top, 'nothing-here'), join(top, 'root-dangling'))
    mkdirSync(join(top, 'wf-bad/d'), { recursive: true })
    symlinkSync(join(top, 'a-file'), join(top, 'wf-bad/d/b_s'))
    for (const [root, blocker, what] of [
      [join(top, 'root-to-file'), join(top, 'root-to-file'), 'a link to a file'],
      [join(top, 'root-dangling'), join(top, 'root-dangling'), 'a link to nothing'],
      [join(top, 'wf-bad'), join(top, 'wf-bad/d/b_s'), 'a link to a file'],
    ]) {
      for (const dry of [[], ['--dry-run']]) {
        const refused = await publish(root!, ...dry)
        t.equal(refused.code, 1, `${scheme} ${root} ${dry}: refused`)
        t.equal(refused.stderr.split('\n').filter((l) => l.startsWith('error: ')).join('\n'), `error: ${named(blocker!)} is ${what} where a directory is expected`, `${scheme} ${root} ${dry}: in one line`)
        t.notMatch(refused.stderr, /\n\s+at /, 'no stack trace')
      }
    }
    t.equal(readFileSync(join(top, 'a-file'), 'utf8'), 'not a directory', 'the file a link leads to is untouched')
    t.notOk(existsSync(join(top, 'nothing-here')), 'and nothing was made where a dangling link leads')

    // a stale entry of the mirrored directory that is a link to a directory: the link goes, not what it leads to
    mkdirSync(join(top, 'precious'))
    writeFileSync(join(top, 'precious/keep.txt'), 'keep')
    symlinkSync(join(top, 'precious'), join(top, 'real/d/b_s/old'))
    const stale = await publish(join(top, 'root-link'))
    t.equal(stale.code, 0, stale.stderr)
    t.match(stale.stderr, /0 uploaded \(0 B\), 1 deleted, 1 unchanged/)
    t.notOk(existsSync(join(top, 'real/d/b_s/old')) || lstatSync(join(top, 'real/d/b_s/old'), { throwIfNoEntry: false }), `${scheme}: the stale link is removed`)
    t.match(sftpBatch(sshd, [`ls -l ${top}/precious`]), /keep\.txt/, `${scheme}: what it led to is untouched (OpenSSH sftp lists it)`)
  }
})

t.test('control characters in names are escaped in every message: no raw ESC, no line split', async (t) => {
  // a newline in a distro or branch directory is matched by no wildcard: ESC only there
  const workflow = 'd\x1b[31mx/b_s'
  const odd = 'new\nline\x1b[31mred'
  const clean = (result: CliResult, what: string) => {
    const output = result.stdout + result.stderr
    t.notOk(output.includes('\x1b'), `${what}: no raw ESC`)
    t.notMatch(output, /^line/m, `${what}: no line split by a name`)
  }
  const remoteRoot = join(sshd.root, 'control')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, remoteRoot)}' } }, ${sshConfig(sshd)} }`)
  write(repo.dir, `${workflow}/conf/casa_distro.json`, '{}')
  write(repo.dir, `${workflow}/${odd}.txt`, 'some text')
  const publish = (...args: string[]) => runCli(['-v', '-r', repo.dir, 'publish_build_workflows', ...args], { env: repo.env })

  // progress lines, then the -v echo of sha256sum on the server, then a dry run's result
  const first = await publish()
  t.equal(first.code, 0, first.stderr)
  t.match(first.stderr, /d\\u001b\[31mx\/b_s: 2 uploaded/)
  clean(first, 'progress lines')
  const checked = await publish('checksum=1')
  t.equal(checked.code, 0, checked.stderr)
  t.match(checked.stderr, /\$ ssh -p \d+ \S+ \$'sha256sum -- .*new\\nline\\u001b\[31mred\.txt/, 'the -v line of the command run on the server names the file escaped')
  clean(checked, '-v lines')
  clean(await publish('--dry-run'), 'a dry run')

  // the lock of a run of another machine, removed with break_lock=1: the warning names it
  writeFileSync(join(remoteRoot, workflow, '.casa-mirror.lock'), JSON.stringify({ task: 'publish_build_workflows', host: 'elsewhere.example', pid: 1 }))
  const broken = await publish('break_lock=1')
  t.equal(broken.code, 0, broken.stderr)
  t.match(broken.stderr, /warning: .*d\\u001b\[31mx\/b_s\/\.casa-mirror\.lock: removing the lock/)
  clean(broken, 'the warning of break_lock')

  // errors: a remote directory where the local file is; a local directory that cannot be read
  rmSync(join(remoteRoot, workflow, `${odd}.txt`))
  mkdirSync(join(remoteRoot, workflow, `${odd}.txt`))
  const conflict = await publish()
  t.equal(conflict.code, 1)
  t.match(conflict.stderr, /error: \S+new\\nline\\u001b\[31mred\.txt is a directory where \S+new\\nline\\u001b\[31mred\.txt is a file: remove it first/)
  clean(conflict, 'a conflict')
  rmSync(join(remoteRoot, workflow, `${odd}.txt`), { recursive: true })
  symlinkSync(tooDeepDirectory(t), join(repo.dir, workflow, odd))
  const unreadable = await publish()
  t.equal(unreadable.code, 1)
  t.match(unreadable.stderr, /error: cannot read \S+new\\nline\\u001b\[31mred\/x+\/\S+: ENAMETOOLONG/)
  clean(unreadable, 'a local directory that cannot be read')
  rmSync(join(repo.dir, workflow, odd))

  // a file hub with a file where the workflow's directory is expected
  const fileHub = tempDir(t)
  writeFileSync(join(fileHub, 'd\x1b[31mx'), 'a file')
  writeFileSync(join(repo.dir, 'casa.config.ts'), `export default { hubs: { buildWorkflows: { upload: 'file://${fileHub}' } } }\n`)
  const blocked = await publish()
  t.equal(blocked.code, 1)
  t.match(blocked.stderr, /error: \S+\/d\\u001b\[31mx is a file where a directory is expected/)
  clean(blocked, 'a file where a directory is expected')

  // the filters that match nothing, as typed
  const none = await publish('distro=\x1b[31m*')
  t.equal(none.code, 1)
  t.match(none.stderr, /No build workflow match distro="\\u001b\[31m\*"/)
  clean(none, 'a filter that matches nothing')
})
