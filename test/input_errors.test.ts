// Bad input on either side of a publish is one `error:` line naming what and where, with a
// non-zero exit and nothing half done: unreadable local files, a mistyped repository, a file
// where a directory is expected (locally or on the hub), an unreadable known_hosts, links that
// loop in a workflow, file names with control characters, and the leftovers of killed
// publish_casa_distro runs.
import t, { type Test } from 'tap'
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { binPath, runCli, runProgram } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'
import { zipArchive } from '../lib/distro/zipWriter.js'

const packageZip = zipArchive([{ name: 'casa-distro-3.0.0/package.json', data: Buffer.from(JSON.stringify({ version: '3.0.0' })) }])

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

const tail = (text: string) => text.slice(-600)

function write(root: string, path: string, data: string) {
  mkdirSync(dirname(join(root, path)), { recursive: true })
  writeFileSync(join(root, path), data)
}

/** Every path under `dir`, directories with a trailing slash (links not followed). */
function tree(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .flatMap((e) => (e.isDirectory() ? [`${prefix}${e.name}/`, ...tree(join(dir, e.name), `${prefix}${e.name}/`)] : [`${prefix}${e.name}`]))
}

/** One `error:` line, exit 1, no stack trace. */
function oneErrorLine(t: Test, run: { code: number; stderr: string }, pattern: RegExp) {
  t.equal(run.code, 1, tail(run.stderr))
  // progress lines (timestamped, CI=true) aside
  const lines = run.stderr
    .trim()
    .split('\n')
    .filter((l) => !/^\d\d:\d\d:\d\d /.test(l))
  t.equal(lines.length, 1, `one line: ${tail(run.stderr)}`)
  t.match(lines[0], /^error: /)
  t.match(lines[0], pattern)
  t.notMatch(run.stderr, /internal error|    at /)
}

/**
 * The command run as `nobody` (tests run as root, for whom no file is unreadable), in a
 * repository given to nobody first (execChown).
 */
function runAsNobody(repoDir: string, args: string[], env: Record<string, string>) {
  // a clean environment: tap's own hooks (NODE_OPTIONS and more) would write where nobody may not
  const vars = Object.entries({ PATH: process.env.PATH ?? '/usr/bin:/bin', NO_COLOR: '1', CI: 'true', ...env }).map(([k, v]) => `${k}=${v}`)
  return runProgram('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', 'env', '-i', ...vars, process.execPath, binPath, ...args], { cwd: repoDir })
}
function execChown(dir: string) {
  chmodSync(dir, 0o755)
  for (const path of ['', ...tree(dir)]) chownSync(join(dir, path), 65534, 65534)
}

t.test('publish_casa_distro: a package that cannot be read is one line', async (t) => {
  const hubDir = join(sshd.root, 'unreadable-zip')
  const repo = workflowRepository(t, `{ hubs: { casaDistro: { upload: '${sftpUrl(sshd, hubDir)}' } }, ${sshConfig(sshd)} }`)
  mkdirSync(join(repo.dir, 'casa-distro-3.0.0.zip'))
  oneErrorLine(t, await runCli(['-r', repo.dir, 'publish_casa_distro', 'package_version=3.0.0'], { env: repo.env }), /casa-distro-3\.0\.0\.zip is not a file/)
  t.notOk(existsSync(hubDir), 'nothing uploaded')

  // unreadable for nobody, publishing to a file:// hub nobody may write
  const fileHub = join(tempDir(t), 'www')
  const own = workflowRepository(t, `{ hubs: { casaDistro: { upload: 'file://${fileHub}' } } }`)
  write(own.dir, 'casa-distro-3.0.0.zip', 'zip')
  execChown(own.dir)
  chmodSync(dirname(fileHub), 0o777)
  chownSync(join(own.dir, 'casa-distro-3.0.0.zip'), 0, 0)
  chmodSync(join(own.dir, 'casa-distro-3.0.0.zip'), 0o600)
  const run = await runAsNobody(own.dir, ['-r', own.dir, 'publish_casa_distro', 'package_version=3.0.0'], own.env)
  oneErrorLine(t, run, /cannot read \S+casa-distro-3\.0\.0\.zip: EACCES/)
  t.same(tree(fileHub), [], 'nothing written on the hub')
})

t.test('publish_build_workflows: a file that cannot be read stops the run before any upload', async (t) => {
  for (const scheme of ['sftp', 'file'] as const) {
    const hubDir = join(scheme === 'sftp' ? sshd.root : tempDir(t), `unreadable-${scheme}`)
    mkdirSync(hubDir)
    chmodSync(dirname(hubDir), 0o755)
    chownSync(hubDir, 65534, 65534)
    const repo = workflowRepository(t, '{}')
    // the key and known_hosts as nobody can read them
    const key = join(repo.dir, 'key')
    copyFileSync(sshd.clientKey, key)
    copyFileSync(sshd.knownHosts, join(repo.dir, 'known_hosts'))
    const hub = scheme === 'sftp' ? sftpUrl(sshd, hubDir) : `file://${hubDir}`
    writeFileSync(join(repo.dir, 'casa.config.ts'), `export default { hubs: { buildWorkflows: { upload: '${hub}' } }, ssh: { identityFile: '${key}', knownHosts: '${join(repo.dir, 'known_hosts')}' } }\n`)
    write(repo.dir, 'd/b_sys/conf/casa_distro.json', '{}')
    write(repo.dir, 'd/b_sys/src/a/f.txt', 'secret')
    write(repo.dir, 'd/b_sys/src/z.txt', 'z')
    execChown(repo.dir)
    chownSync(join(repo.dir, 'd/b_sys/src/a/f.txt'), 0, 0)
    chmodSync(join(repo.dir, 'd/b_sys/src/a/f.txt'), 0o600)
    const run = await runAsNobody(repo.dir, ['-r', repo.dir, 'publish_build_workflows'], repo.env)
    oneErrorLine(t, run, new RegExp(`cannot read ${join(repo.dir, 'd/b_sys/src/a/f.txt')}: EACCES`))
    t.same(
      tree(hubDir).filter((p) => !p.endsWith('/')),
      [],
      `${scheme}: nothing uploaded, no temporary file`,
    )
  }
})

t.test('package_casa_distro: a bad repository, version or target is one line and writes nothing', async (t) => {
  const repo = workflowRepository(t, '{}')
  const file = join(repo.dir, 'plain-file')
  writeFileSync(file, 'x')
  oneErrorLine(t, await runCli(['-r', file, 'package_casa_distro'], { env: repo.env }), /repository \S+plain-file is not a directory/)
  const typo = join(repo.dir, 'typo-repo')
  oneErrorLine(t, await runCli(['-r', typo, 'package_casa_distro'], { env: repo.env }), /repository \S+typo-repo does not exist/)
  t.notOk(existsSync(typo), 'the mistyped repository was not created')
  oneErrorLine(t, await runCli(['-r', repo.dir, 'package_casa_distro', `package_version=${'x'.repeat(300)}`], { env: repo.env }), /package_version "x+": expected a version/)
  mkdirSync(join(repo.dir, 'casa-distro-5.0.zip'))
  oneErrorLine(t, await runCli(['-r', repo.dir, 'package_casa_distro', 'package_version=5.0'], { env: repo.env }), /casa-distro-5\.0\.zip is not a file: remove it first/)
  t.same(
    readdirSync(repo.dir).filter((n) => n.includes('.tmp')),
    [],
    'no temporary file left',
  )
})

t.test('publish_build_workflows: a link loop is skipped with a warning, a dangling link silently', async (t) => {
  const hubDir = join(tempDir(t), 'www')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: 'file://${hubDir}' } } }`)
  write(repo.dir, 'd/b_sys/conf/casa_distro.json', '{}')
  write(repo.dir, 'd/b_sys/sub/f.txt', 'f')
  symlinkSync('..', join(repo.dir, 'd/b_sys/sub/loop'))
  symlinkSync('nowhere', join(repo.dir, 'd/b_sys/sub/dangling'))
  const run = await runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env })
  t.equal(run.code, 0, tail(run.stderr))
  t.match(run.stderr, /warning: skipped \S+d\/b_sys\/sub\/loop: a link to a directory that contains it/)
  t.notMatch(run.stderr, /dangling/)
  t.same(tree(join(hubDir, 'd/b_sys')), ['conf/', 'conf/casa_distro.json', 'sub/', 'sub/f.txt'])
})

t.test('publish_build_workflows: a path that cannot be looked at is one line naming it', async (t) => {
  const hubDir = join(tempDir(t), 'www')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: 'file://${hubDir}' } } }`)
  write(repo.dir, 'd/b_sys/conf/casa_distro.json', '{}')
  write(repo.dir, 'private/f.txt', 'f')
  symlinkSync(join(repo.dir, 'private/f.txt'), join(repo.dir, 'd/b_sys/link'))
  execChown(repo.dir)
  chmodSync(dirname(hubDir), 0o777)
  chownSync(join(repo.dir, 'private'), 0, 0)
  chmodSync(join(repo.dir, 'private'), 0o700)
  const run = await runAsNobody(repo.dir, ['-r', repo.dir, 'publish_build_workflows'], repo.env)
  oneErrorLine(t, run, new RegExp(`cannot read ${join(repo.dir, 'd/b_sys/link')}: EACCES`))
  // (the directories the lock was taken in stay, as after any refused run)
  t.same(
    tree(hubDir).filter((p) => !p.endsWith('/')),
    [],
    'nothing uploaded',
  )
})

t.test('publish_casa_distro removes the temporary files of killed runs, once an hour old', async (t) => {
  const hubDir = join(sshd.root, 'stale-temps')
  const repo = workflowRepository(t, `{ hubs: { casaDistro: { upload: '${sftpUrl(sshd, hubDir)}' } }, ${sshConfig(sshd)} }`)
  writeFileSync(join(repo.dir, 'casa-distro-3.0.0.zip'), packageZip) // a real zip: publish checks it
  mkdirSync(hubDir)
  const old = Date.now() / 1000 - 2 * 3600
  const stale = ['.casa-distro-3.0.0.zip.casa-tmp-23941-abc123', '.casa-distro.zip.casa-tmp-23941-def456', '.casa-distro-2.9.zip.casa-tmp-1-x1']
  const kept = ['.casa-distro-3.0.0.zip.casa-tmp-777-live01', '.other.zip.casa-tmp-1-x2', 'casa-distro-notes.txt']
  for (const name of [...stale, ...kept]) writeFileSync(join(hubDir, name), 'partial')
  for (const name of [...stale, kept[1]!, kept[2]!]) utimesSync(join(hubDir, name), old, old)
  const run = await runCli(['-r', repo.dir, 'publish_casa_distro', 'package_version=3.0.0'], { env: repo.env })
  t.equal(run.code, 0, tail(run.stderr))
  t.same(readdirSync(hubDir).sort(), [...kept, 'casa-distro-3.0.0.zip', 'casa-distro.zip'].sort(), 'old leftovers of our names gone; a fresh one (a live run) and other names stay')
  // and a re-run that changes nothing cleans too
  utimesSync(join(hubDir, kept[0]!), old, old)
  const rerun = await runCli(['-r', repo.dir, 'publish_casa_distro', 'package_version=3.0.0'], { env: repo.env })
  t.equal(rerun.code, 0, tail(rerun.stderr))
  t.notOk(existsSync(join(hubDir, kept[0]!)))
})

t.test('a file where a hub directory is expected, an unreadable known_hosts, a missing repository', async (t) => {
  const afile = join(sshd.root, 'afile')
  writeFileSync(afile, 'x')
  const localFile = join(tempDir(t), 'afile')
  writeFileSync(localFile, 'x')
  for (const [hub, shown] of [
    // the hub URL as written in the config, not known_hosts' user@[host]:port//path form
    [sftpUrl(sshd, afile), sftpUrl(sshd, afile).replace(/[.[\]]/g, '\\$&')],
    [`file://${localFile}`, localFile],
  ]) {
    const repo = workflowRepository(t, `{ hubs: { casaDistro: { upload: '${hub}' }, buildWorkflows: { upload: '${hub}' } }, ${sshConfig(sshd)} }`)
    writeFileSync(join(repo.dir, 'casa-distro-3.0.0.zip'), packageZip) // a real zip: publish checks it
    write(repo.dir, 'd/b_sys/conf/casa_distro.json', '{}')
    oneErrorLine(t, await runCli(['-r', repo.dir, 'publish_casa_distro', 'package_version=3.0.0'], { env: repo.env }), new RegExp(`${shown} is a file where a directory is expected`))
    oneErrorLine(t, await runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env }), new RegExp(`${shown} is a file where a directory is expected`))
  }

  const knownHostsDir = tempDir(t)
  const repo = workflowRepository(t, `{ hubs: { casaDistro: { upload: '${sftpUrl(sshd, join(sshd.root, 'kh'))}' } }, ssh: { identityFile: '${sshd.clientKey}', knownHosts: '${knownHostsDir}' } }`)
  writeFileSync(join(repo.dir, 'casa-distro-3.0.0.zip'), packageZip) // a real zip: publish checks it
  oneErrorLine(t, await runCli(['-r', repo.dir, 'publish_casa_distro', 'package_version=3.0.0'], { env: repo.env }), new RegExp(`cannot read known_hosts file ${knownHostsDir}: EISDIR`))

  oneErrorLine(t, await runCli(['-r', join(repo.dir, 'emptyrepo'), 'publish_build_workflows'], { env: repo.env }), /repository \S+emptyrepo does not exist/)
})

t.test('--dry-run shows a newline in a file name escaped, on its own row', async (t) => {
  const hubDir = join(tempDir(t), 'www')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: 'file://${hubDir}' } } }`)
  write(repo.dir, 'd/b_sys/conf/casa_distro.json', '{}')
  write(repo.dir, 'd/b_sys/two\nlines.txt', 'x')
  const run = await runCli(['-r', repo.dir, 'publish_build_workflows', '--dry-run'], { env: repo.env })
  t.equal(run.code, 0, tail(run.stderr))
  t.match(run.stdout, /^upload\s+d\/b_sys\/two\\nlines\.txt\s+1 B \(new\)$/m)
  t.equal(run.stdout.trim().split('\n').length, 3, 'header and two rows')
  rmSync(hubDir, { recursive: true, force: true })
})
