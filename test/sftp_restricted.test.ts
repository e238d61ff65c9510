// Servers that refuse part of SFTP, played by OpenSSH itself: internal-sftp started with -P
// leaves the refused requests out of its advertised extensions and answers them with an
// error, as a server without OpenSSH's extensions would.
//   - no posix-rename@openssh.com: replacing a file is a plain rename, after removing the
//     old file where the server's rename refuses to overwrite;
//   - no symlink: publish_casa_distro's pointer is a copy renamed into place.
// What lands on the server is read back with OpenSSH's sftp.
import t from 'tap'
import { createHash } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { openHub } from '../lib/hubs/transport.js'
import { runCli } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpGet, sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd({ sftpDenied: ['posix-rename', 'symlink'] })
})
t.teardown(() => sshd?.stop())

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex')
const tail = (text: string) => text.slice(-600)
const version = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string

/** Every name under dir, hidden ones included (temporary files start with a dot). */
function allNames(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .sort()
    .flatMap((name) => (statSync(join(dir, name)).isDirectory() ? allNames(join(dir, name), `${prefix}${name}/`) : [`${prefix}${name}`]))
}

t.test('the server really refuses them (OpenSSH sftp cannot link either)', async (t) => {
  const { execFileSync } = await import('node:child_process')
  mkdirSync(join(sshd.root, 'probe'), { recursive: true })
  writeFileSync(join(sshd.root, 'probe', 'a'), 'a')
  const run = () =>
    execFileSync('sftp', ['-q', '-i', sshd.clientKey, '-o', `UserKnownHostsFile=${sshd.knownHosts}`, '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-P', String(sshd.port), '-b', '-', `${sshd.user}@127.0.0.1`], {
      input: `ln -s ${sshd.root}/probe/a ${sshd.root}/probe/b\n`,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, SSH_AUTH_SOCK: '' },
    })
  t.throws(run, 'sftp ln -s fails')
  t.notOk(existsSync(join(sshd.root, 'probe', 'b')))
})

t.test('hub operations fall back: files replaced by rename, links made as copies', async (t) => {
  const serverDir = join(sshd.root, 'hub')
  const hub = await openHub(sftpUrl(sshd, serverDir), { identityFile: sshd.clientKey, knownHosts: sshd.knownHosts })
  t.teardown(() => hub.close())
  const local = tempDir(t)
  writeFileSync(join(local, 'v1'), 'first version\n')
  writeFileSync(join(local, 'v2'), 'second, longer version\n')

  await hub.put(join(local, 'v1'), 'dir/a.txt', { mtime: 1_600_000_000 })
  await hub.put(join(local, 'v2'), 'dir/a.txt', { mtime: 1_700_000_000 })
  t.equal(readFileSync(join(serverDir, 'dir/a.txt'), 'utf8'), 'second, longer version\n', 'an existing file is replaced')
  t.equal(statSync(join(serverDir, 'dir/a.txt')).mtimeMs / 1000, 1_700_000_000, 'with the new modification time')
  t.equal(sftpGet(sshd, `${serverDir}/dir/a.txt`, tempDir(t)).toString(), 'second, longer version\n', 'OpenSSH sftp reads the new content')

  t.equal(await hub.link('a.txt', 'dir/latest'), 'copy', 'no symlink: a copy')
  t.notOk(lstatSync(join(serverDir, 'dir/latest')).isSymbolicLink())
  t.equal(readFileSync(join(serverDir, 'dir/latest'), 'utf8'), 'second, longer version\n')
  t.equal(await hub.readLink('dir/latest'), undefined, 'a copy is no link')
  await hub.put(join(local, 'v1'), 'dir/b.txt')
  t.equal(await hub.link('b.txt', 'dir/latest'), 'copy', 'an existing copy is replaced')
  t.equal(readFileSync(join(serverDir, 'dir/latest'), 'utf8'), 'first version\n')
  t.same(allNames(serverDir), ['dir/a.txt', 'dir/b.txt', 'dir/latest'], 'no temporary file left')
})

t.test('publish_casa_distro: the pointer is a copy, switched by rename, left alone on a re-run', async (t) => {
  // links refused, posix-rename kept: the copy replaces the old pointer in one rename
  const linkless = await startSshd({ sftpDenied: ['symlink'] })
  t.teardown(() => linkless.stop())
  const hubDir = join(linkless.root, 'casa-distro')
  const repo = workflowRepository(t, `{ hubs: { casaDistro: { upload: '${sftpUrl(linkless, hubDir)}' } }, ${sshConfig(linkless)} }`)
  const versions = [`${version}-a`, `${version}-b`]
  for (const v of versions) {
    const made = await runCli(['-r', repo.dir, 'package_casa_distro', `package_version=${v}`], { env: repo.env })
    t.equal(made.code, 0, tail(made.stderr))
  }
  const [zipA, zipB] = versions.map((v) => readFileSync(join(repo.dir, `casa-distro-${v}.zip`)))
  const pointer = join(hubDir, 'casa-distro.zip')

  const first = await runCli(['-r', repo.dir, 'publish_casa_distro', `package_version=${versions[0]}`], { env: repo.env })
  t.equal(first.code, 0, tail(first.stderr))
  t.match(first.stderr, /casa-distro\.zip -> casa-distro-\S+-a\.zip \(copy\)/)
  t.notOk(lstatSync(pointer).isSymbolicLink(), 'a regular file')
  t.equal(sha(sftpGet(linkless, `${hubDir}/casa-distro.zip`, tempDir(t))), sha(zipA!), 'OpenSSH sftp downloads version A')

  const before = lstatSync(pointer).ino
  const rerun = await runCli(['-r', repo.dir, 'publish_casa_distro', `package_version=${versions[0]}`], { env: repo.env })
  t.equal(rerun.code, 0, tail(rerun.stderr))
  t.match(rerun.stderr, /already published/)
  t.equal(lstatSync(pointer).ino, before, 'the copy was not made again (same sha256)')

  let reading = true
  const seen = new Set<string>()
  const reader = (async () => {
    while (reading) {
      seen.add(sha(readFileSync(pointer))) // throws if the pointer is ever missing
      await new Promise((r) => setImmediate(r))
    }
  })()
  const second = await runCli(['-r', repo.dir, 'publish_casa_distro', `package_version=${versions[1]}`], { env: repo.env })
  reading = false
  await reader
  t.equal(second.code, 0, tail(second.stderr))
  t.ok([...seen].every((d) => d === sha(zipA!) || d === sha(zipB!)), 'every read found a whole zip, A or B')
  t.equal(sha(readFileSync(pointer)), sha(zipB!))
  t.same(
    allNames(hubDir).filter((n) => n.startsWith('.')),
    [],
    'no temporary file left',
  )
})

t.test('publish_build_workflows without posix-rename: changed files replaced, a second run uploads nothing', async (t) => {
  const remoteRoot = join(sshd.root, 'bw')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, remoteRoot)}' } }, ${sshConfig(sshd)} }`)
  const workflow = join(repo.dir, 'brainvisa', 'master_ubuntu-22.04')
  mkdirSync(join(workflow, 'conf'), { recursive: true })
  writeFileSync(join(workflow, 'conf', 'casa_distro.json'), '{"distro":"brainvisa"}')
  writeFileSync(join(workflow, 'conf', 'bv_maker.cfg'), 'first\n')
  const first = await runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env })
  t.equal(first.code, 0, tail(first.stderr))
  writeFileSync(join(workflow, 'conf', 'bv_maker.cfg'), 'second, with another size\n')
  const second = await runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env })
  t.equal(second.code, 0, tail(second.stderr))
  t.match(second.stderr, /1 uploaded .*, 0 deleted, 1 unchanged/)
  t.equal(sftpGet(sshd, `${remoteRoot}/brainvisa/master_ubuntu-22.04/conf/bv_maker.cfg`, tempDir(t)).toString(), 'second, with another size\n')
  const third = await runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env })
  t.match(third.stderr, /0 uploaded \(0 B\), 0 deleted, 2 unchanged/)
  t.same(allNames(remoteRoot), ['brainvisa/master_ubuntu-22.04/conf/bv_maker.cfg', 'brainvisa/master_ubuntu-22.04/conf/casa_distro.json'], 'no temporary file left')
})
