// publish_build_workflows with several workflows, when some fail. A failure of one workflow
// (its lock held by another run, a local directory that cannot be read, a remote path
// conflict) is reported in its line and the others are still mirrored; the run ends with one
// line naming the failed ones, exit 1. A hub that fails (its connection lost) or an interrupt
// stops at once, naming the workflows not tried. Real sshd, whose connections the test kills.
import t from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { binPath, runCli } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

function write(root: string, path: string, data: string | Buffer) {
  mkdirSync(join(root, path, '..'), { recursive: true })
  writeFileSync(join(root, path), data)
}

/** A local directory longer than PATH_MAX: unreadable even as root (see publish_build_workflows.test.ts). */
function tooDeepDirectory(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'casa-deep-'))
  t.teardown(() => execFileSync('rm', ['-rf', dir]))
  const script = `process.chdir(${JSON.stringify(dir)}); for (let i = 0; i < 18; i++) { fs.mkdirSync('x'.repeat(250)); process.chdir('x'.repeat(250)) }`
  execFileSync(process.execPath, ['-e', script])
  return dir
}

const errors = (stderr: string) => stderr.split('\n').filter((line) => line.startsWith('error: '))

/** publish_build_workflows in the background; its stderr and exit code once it ends. */
function startPublish(local: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [binPath, '-r', local, 'publish_build_workflows'], { env: { ...process.env, ...env, NO_COLOR: '1', CI: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr!.on('data', (c) => (stderr += c))
  return { child, exited: new Promise<{ code: number | null; stderr: string }>((resolve) => child.on('close', (code) => resolve({ code, stderr }))) }
}

/** Wait (20 s at most) until a temporary file in `dir` holds more than `bytes`. */
async function uploadPast(dir: string, bytes: number): Promise<boolean> {
  for (let i = 0; i < 1000; i++) {
    await new Promise((r) => setTimeout(r, 20))
    const temp = existsSync(dir) ? readdirSync(dir).find((n) => n.includes('.casa-tmp-')) : undefined
    if (temp && (statSync(join(dir, temp), { throwIfNoEntry: false })?.size ?? 0) > bytes) return true
  }
  return false
}

t.test('a failure of one workflow is reported, the others are mirrored, one line counts the failed ones', async (t) => {
  const remoteRoot = join(sshd.root, 'several')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, remoteRoot)}' } }, ${sshConfig(sshd)} }`)
  for (const w of ['a/locked_s', 'b/good_s', 'c/conflict_s', 'd/unreadable_s', 'e/good_s']) write(repo.dir, `${w}/conf/casa_distro.json`, '{}')
  write(repo.dir, 'c/conflict_s/file.txt', 'a file here')
  symlinkSync(tooDeepDirectory(t), join(repo.dir, 'd/unreadable_s/deep'))
  // another machine's run holds a/locked_s; c/conflict_s has a directory where a file goes
  const foreign = `${JSON.stringify({ task: 'publish_build_workflows', user: 'builder', host: 'other-host.example', pid: 4242, started: '2026-01-02T03:04:05.000Z' })}\n`
  write(remoteRoot, 'a/locked_s/.casa-mirror.lock', foreign)
  mkdirSync(join(remoteRoot, 'c/conflict_s/file.txt'), { recursive: true })

  for (const dry of [['--dry-run'], []]) {
    const run = await runCli(['-r', repo.dir, 'publish_build_workflows', ...dry], { env: repo.env })
    t.equal(run.code, 1, `${dry}: exit 1`)
    t.notMatch(run.stderr, /\n\s+at /, 'no stack trace')
    const lines = errors(run.stderr)
    if (dry.length === 0) t.match(lines.shift(), /^error: sftp:\/\/\S+\/several\/a\/locked_s is being published by another run \(publish_build_workflows by builder@other-host\.example/, 'the lock, in its line')
    t.match(lines.shift(), /^error: sftp:\/\/\S+\/several\/c\/conflict_s\/file\.txt is a directory where \S+\/c\/conflict_s\/file\.txt is a file: remove it first$/, `${dry}: the conflict, in its line`)
    t.match(lines.shift(), /^error: cannot read \S+\/d\/unreadable_s\/deep\/x{250}\/\S+: ENAMETOOLONG/, `${dry}: the unreadable directory, in its line`)
    t.same(
      lines,
      [dry.length ? 'error: 2 of 5 build workflows failed: c/conflict_s, d/unreadable_s' : 'error: 3 of 5 build workflows failed: a/locked_s, c/conflict_s, d/unreadable_s'],
      `${dry}: the last line counts and names the failed ones`,
    )
    t.match(run.stderr, /e\/good_s/, `${dry}: the workflow after the failed ones was tried`)
  }
  t.equal(readFileSync(join(remoteRoot, 'b/good_s/conf/casa_distro.json'), 'utf8'), '{}', 'the workflow between failed ones is mirrored')
  t.equal(readFileSync(join(remoteRoot, 'e/good_s/conf/casa_distro.json'), 'utf8'), '{}', 'the last one too')
  t.equal(readFileSync(join(remoteRoot, 'a/locked_s/.casa-mirror.lock'), 'utf8'), foreign, 'the lock of the other run is left alone')
  t.notOk(existsSync(join(remoteRoot, 'a/locked_s/conf')), 'the locked workflow is not mirrored')
  t.notOk(existsSync(join(remoteRoot, 'd/unreadable_s')), 'nothing left of the unreadable one')
})

t.test('the connection lost during one workflow: the run stops at once and names those not tried', async (t) => {
  const remoteRoot = join(sshd.root, 'lost')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, remoteRoot)}' } }, ${sshConfig(sshd)} }`)
  for (const w of ['a/first_s', 'b/big_s', 'c/third_s', 'd/fourth_s']) write(repo.dir, `${w}/conf/casa_distro.json`, '{}')
  write(repo.dir, 'b/big_s/big.bin', randomBytes(200_000_000))
  const { exited } = startPublish(repo.dir, repo.env)
  const uploading = await uploadPast(join(remoteRoot, 'b/big_s'), 5_000_000)
  sshd.dropConnections()
  const { code, stderr } = await exited
  t.ok(uploading, 'the connection was dropped during the upload of b/big_s')
  t.equal(code, 1, stderr)
  t.notMatch(stderr, /\n\s+at /, 'no stack trace')
  const lines = errors(stderr)
  t.equal(lines.length, 2, stderr)
  t.match(lines[0], /^error: .*(closed|lost|failed)/, 'the failure of the hub, in its line')
  t.equal(lines[1], 'error: 1 of 4 build workflows failed: b/big_s; 2 not tried (the hub failed): c/third_s, d/fourth_s')
  t.match(stderr, /\nwarning: cannot \w+ sftp:\/\/\S+\/lost\/b\/big_s\/\.casa-mirror\.lock: .*: the lock is left behind\n/, 'the lock that could not be released is named')
  t.equal(readFileSync(join(remoteRoot, 'a/first_s/conf/casa_distro.json'), 'utf8'), '{}', 'the workflow before is mirrored')
  t.notOk(existsSync(join(remoteRoot, 'c')), 'the ones after were not tried')
})

t.test('SIGTERM during one workflow: exit 143, the ones after are not tried and named', async (t) => {
  const remoteRoot = join(sshd.root, 'term')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, remoteRoot)}' } }, ${sshConfig(sshd)} }`)
  for (const w of ['a/big_s', 'b/second_s', 'c/third_s']) write(repo.dir, `${w}/conf/casa_distro.json`, '{}')
  write(repo.dir, 'a/big_s/big.bin', randomBytes(200_000_000))
  const { child, exited } = startPublish(repo.dir, repo.env)
  const uploading = await uploadPast(join(remoteRoot, 'a/big_s'), 5_000_000)
  child.kill('SIGTERM')
  const { code, stderr } = await exited
  t.ok(uploading, 'interrupted during the upload of a/big_s')
  t.equal(code, 143, stderr)
  t.match(stderr, /\nerror: interrupted during a\/big_s; 2 of 3 build workflows not tried: b\/second_s, c\/third_s\n/)
  t.notOk(existsSync(join(remoteRoot, 'b')), 'the ones after were not tried')
  t.same(readdirSync(join(remoteRoot, 'a/big_s')), ['conf'], 'the interrupted one left no temporary file nor lock')
})

t.test('a hub that cannot be opened (unknown host key): its error, then every workflow named as not tried', async (t) => {
  const remoteRoot = join(sshd.root, 'unknown-key')
  const repo = workflowRepository(t, '{}')
  const emptyKnownHosts = join(repo.dir, 'known_hosts')
  writeFileSync(emptyKnownHosts, '')
  writeFileSync(
    join(repo.dir, 'casa.config.ts'),
    `export default { hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, remoteRoot)}' } }, ssh: { identityFile: ${JSON.stringify(sshd.clientKey)}, knownHosts: ${JSON.stringify(emptyKnownHosts)} } }\n`,
  )
  for (const w of ['a/one_s', 'b/two_s']) write(repo.dir, `${w}/conf/casa_distro.json`, '{}')
  const run = await runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env })
  t.equal(run.code, 1, run.stderr)
  const lines = errors(run.stderr)
  t.match(lines[0], /^error: host key of \[127\.0\.0\.1\]:\d+ \(ssh-ed25519 SHA256:\S+\) is not in /)
  t.same(lines.slice(1), ['error: 2 of 2 build workflows not tried (the hub failed): a/one_s, b/two_s'])
  t.notOk(existsSync(remoteRoot), 'nothing made on the hub')

  // a single workflow: its error alone, as before
  const one = await runCli(['-r', repo.dir, 'publish_build_workflows', 'distro=a'], { env: repo.env })
  t.equal(one.code, 1)
  t.equal(errors(one.stderr).length, 1, one.stderr)
})
