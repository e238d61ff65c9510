// lib/hubs/transport against OpenSSH sshd on loopback (key authentication, host keys checked) and
// against a file:// directory; what lands on the server is read back with OpenSSH's sftp.
import t, { type Test } from 'tap'
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { join } from 'node:path'
import { openHub, type Hub } from '../lib/hubs/transport.js'
import { runCli } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpBatch, sftpGet, sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

const ssh = () => ({ identityFile: sshd.clientKey, knownHosts: sshd.knownHosts })

async function exercise(t: Test, hub: Hub, serverDir: string) {
  const local = tempDir(t)
  writeFileSync(join(local, 'a.txt'), 'first version\n')
  let progress = 0
  await hub.put(join(local, 'a.txt'), 'sub/dir/a.txt', { mtime: 1_600_000_000, onProgress: (done) => (progress = done) })
  t.equal(progress, 14, 'progress reaches the file size')
  t.equal(readFileSync(join(serverDir, 'sub/dir/a.txt'), 'utf8'), 'first version\n', 'missing directories are created')
  t.equal(await hub.readText('sub/dir/a.txt'), 'first version\n')
  t.equal(await hub.readText('sub/none.txt'), undefined, 'absent file reads as undefined')
  await hub.putText('pointer text', 'sub/p.txt')
  t.same(
    (await hub.list('sub', { recursive: true })).map((e) => [e.path, e.type, e.type === 'file' ? e.size : 0]),
    [
      ['dir', 'dir', 0],
      ['dir/a.txt', 'file', 14],
      ['p.txt', 'file', 12],
    ],
  )
  t.equal((await hub.list('sub/dir')).find((e) => e.path === 'a.txt')?.mtime, 1_600_000_000, 'mtime set on the server')
  t.same(await hub.list('nowhere'), [], 'listing an absent directory gives nothing')
  t.equal(await hub.link('dir/a.txt', 'sub/latest'), 'symlink')
  t.equal(readlinkSync(join(serverDir, 'sub/latest')), 'dir/a.txt')
  t.equal(await hub.readLink('sub/latest'), 'dir/a.txt')
  writeFileSync(join(local, 'a.txt'), 'second\n')
  await hub.put(join(local, 'a.txt'), 'sub/dir/b.txt')
  t.equal(await hub.link('dir/b.txt', 'sub/latest'), 'symlink', 'an existing link is replaced')
  t.equal(readlinkSync(join(serverDir, 'sub/latest')), 'dir/b.txt')
  const [hashA, hashNone] = await hub.sha256(['sub/dir/a.txt', 'sub/none'])
  t.equal(hashA, execFileSync('sha256sum', [join(serverDir, 'sub/dir/a.txt')], { encoding: 'utf8' }).split(' ')[0])
  t.equal(hashNone, undefined)
  t.equal(await hub.createNew('mine\n', 'new/dir/lock'), true, 'createNew makes a file, and its missing directories')
  t.equal(await hub.createNew('theirs\n', 'new/dir/lock'), false, 'createNew refuses an existing file')
  t.equal(readFileSync(join(serverDir, 'new/dir/lock'), 'utf8'), 'mine\n', 'and leaves it as it was')
  await hub.remove('new/dir/lock')
  await hub.remove('sub/latest')
  await hub.remove('sub/latest')
  t.notOk(existsSync(join(serverDir, 'sub/latest')), 'removed; removing again is fine')
  await hub.mkdirp('made/empty/deeper')
  await hub.putText('kept', 'made/full/f.txt')
  mkdirSync(join(serverDir, 'made/empty/found'))
  await hub.removeEmptyDirectoriesMade('made/empty/deeper')
  t.same(readdirSync(join(serverDir, 'made')).sort(), ['empty', 'full'], 'directories made by the hub: an empty one goes, one holding a directory it did not make stays')
  rmdirSync(join(serverDir, 'made/empty/found'))
  await hub.removeEmptyDirectoriesMade('made/empty')
  t.same(readdirSync(join(serverDir, 'made')), ['full'], 'one holding a file stays, and so does its parent')
  t.same(readdirSync(join(serverDir, 'made/full')), ['f.txt'])
  t.same(
    (await hub.list('', { recursive: true })).filter((e) => e.path.includes('casa-tmp')),
    [],
    'no temporary file left',
  )
}

t.test('sftp hub: put, putText, readText, list, link, remove, sha256; checked with OpenSSH sftp', async (t) => {
  const hub = await openHub(sftpUrl(sshd, `${sshd.root}/hub`), ssh())
  t.teardown(() => hub.close())
  await exercise(t, hub, join(sshd.root, 'hub'))
  const listing = sftpBatch(sshd, [`cd ${sshd.root}/hub/sub/dir`, 'ls -l'])
  t.match(listing, /-rw-r--r-- .* 14 .*a\.txt/, 'sftp lists the uploaded file with its mode and size')
  t.equal(sftpGet(sshd, `${sshd.root}/hub/sub/dir/a.txt`, tempDir(t)).toString(), 'first version\n', 'sftp reads back what was put')
})

t.test('file hub: the same operations', async (t) => {
  const dir = tempDir(t)
  const hub = await openHub(`file://${dir}/hub`)
  await exercise(t, hub, join(dir, 'hub'))
})

t.test('sftp hub: /~/path is relative to the login directory', async (t) => {
  // the login directory is the test user's real home: a uniquely named file, removed after
  const hub = await openHub(sftpUrl(sshd, '/~/'), ssh())
  t.teardown(() => hub.close())
  const name = `casa-test-home-${process.pid}.txt`
  await hub.putText('home', name)
  const loginDir = sftpBatch(sshd, ['pwd']).match(/Remote working directory: (.*)/)![1]!
  t.equal(readFileSync(join(loginDir, name), 'utf8'), 'home')
  await hub.remove(name)
  t.notOk(existsSync(join(loginDir, name)))
})

t.test('host keys: unknown and changed keys refused in one line; hashed known_hosts accepted', async (t) => {
  const local = tempDir(t)
  mkdirSync(join(local, 'd', 'b_s', 'conf'), { recursive: true })
  writeFileSync(join(local, 'd', 'b_s', 'conf', 'casa_distro.json'), '{}')
  const knownHosts = join(local, 'known_hosts')
  const config = `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, `${sshd.root}/hk`)}' } }, ssh: { identityFile: ${JSON.stringify(sshd.clientKey)}, knownHosts: ${JSON.stringify(knownHosts)} } }`
  const repo = workflowRepository(t, config)
  const run = () => runCli(['-r', local, 'publish_build_workflows'], { env: repo.env })

  writeFileSync(knownHosts, '')
  const unknown = await run()
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, new RegExp(`error: host key of \\[127\\.0\\.0\\.1\\]:${sshd.port} \\(ssh-ed25519 SHA256:[A-Za-z0-9+/]+\\) is not in ${knownHosts}: .*ssh-keyscan -p ${sshd.port} 127\\.0\\.0\\.1`))
  t.equal(unknown.stderr.trim().split('\n').length, 1, 'one line')
  t.notOk(existsSync(join(sshd.root, 'hk')), 'nothing uploaded')

  // hashed entry (ssh-keygen -H), as Debian writes known_hosts by default
  writeFileSync(knownHosts, readFileSync(sshd.knownHosts))
  execFileSync('ssh-keygen', ['-q', '-H', '-f', knownHosts], { stdio: 'ignore' })
  t.match(readFileSync(knownHosts, 'utf8'), /^\|1\|/, 'the entry is hashed')
  const first = await run()
  t.equal(first.code, 0, first.stderr)
  t.ok(existsSync(join(sshd.root, 'hk', 'd', 'b_s', 'conf', 'casa_distro.json')))

  // the server's key changes between runs (another key written for [127.0.0.1]:port)
  const other = join(local, 'other_host_key')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other])
  writeFileSync(knownHosts, `[127.0.0.1]:${sshd.port} ${readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`)
  writeFileSync(join(local, 'd', 'b_s', 'conf', 'casa_distro.json'), '{"changed": true}')
  const changed = await run()
  t.equal(changed.code, 1)
  t.match(changed.stderr, /error: host key of \[127\.0\.0\.1\]:\d+ has CHANGED \(server sent ssh-ed25519 SHA256:[^,]+, .*known_hosts:1 holds another\): refusing to connect/)
  t.equal(changed.stderr.trim().split('\n').length, 1, 'one line')
  t.notMatch(changed.stderr, /\n\s+at /, 'no stack trace')
  t.equal(readFileSync(join(sshd.root, 'hk', 'd', 'b_s', 'conf', 'casa_distro.json'), 'utf8'), '{}', 'nothing uploaded')
})

t.test('a wrong key is refused with one clear line and no secret', async (t) => {
  const local = tempDir(t)
  mkdirSync(join(local, 'd', 'b_s', 'conf'), { recursive: true })
  writeFileSync(join(local, 'd', 'b_s', 'conf', 'casa_distro.json'), '{}')
  const wrongKey = join(local, 'wrong_key')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrongKey])
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, `${sshd.root}/wk`)}' } }, ssh: { identityFile: ${JSON.stringify(wrongKey)}, knownHosts: ${JSON.stringify(sshd.knownHosts)} } }`)
  const result = await runCli(['-v', '-r', local, 'publish_build_workflows'], { env: repo.env })
  t.equal(result.code, 1)
  t.match(result.stderr, new RegExp(`error: sftp://${sshd.user}@\\[127\\.0\\.0\\.1\\]:${sshd.port}: the server refused key ${wrongKey} for user ${sshd.user}`))
  const secretLines = readFileSync(wrongKey, 'utf8').split('\n').filter((l) => l && !l.startsWith('-----'))
  for (const line of secretLines) t.notOk((result.stdout + result.stderr).includes(line.slice(0, 20)), 'no part of the private key is printed')
  t.notMatch(result.stderr, /\n\s+at /, 'no stack trace')

  const missing = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, '/x')}' } }, ssh: { identityFile: '/nonexistent/key', knownHosts: ${JSON.stringify(sshd.knownHosts)} } }`)
  const noKey = await runCli(['-r', local, 'publish_build_workflows'], { env: missing.env })
  t.equal(noKey.code, 1)
  t.match(noKey.stderr, /^error: cannot read ssh.identityFile \/nonexistent\/key: ENOENT\n$/)

  const encrypted = join(local, 'encrypted_key')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'a passphrase', '-f', encrypted])
  const enc = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, '/x')}' } }, ssh: { identityFile: ${JSON.stringify(encrypted)}, knownHosts: ${JSON.stringify(sshd.knownHosts)} } }`)
  const encResult = await runCli(['-r', local, 'publish_build_workflows'], { env: enc.env })
  t.equal(encResult.code, 1)
  t.match(encResult.stderr, /error: .*encrypted_key: the key is encrypted: load it into ssh-agent/)
})

t.test('keys from a real ssh-agent: alone, and after a refused key file', async (t) => {
  const local = tempDir(t)
  mkdirSync(join(local, 'd', 'b_s', 'conf'), { recursive: true })
  writeFileSync(join(local, 'd', 'b_s', 'conf', 'casa_distro.json'), '{"via":"agent"}')
  // OpenSSH's ssh-agent on a socket of our own, holding the test user's key
  const socket = join(local, 'agent.sock')
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' })
  t.teardown(() => void agent.kill())
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 20))
  execFileSync('ssh-add', ['-q', sshd.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' })

  const onlyAgent = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, `${sshd.root}/agent`)}' } }, ssh: { knownHosts: ${JSON.stringify(sshd.knownHosts)} } }`)
  const viaAgent = await runCli(['-v', '-r', local, 'publish_build_workflows'], { env: { ...onlyAgent.env, SSH_AUTH_SOCK: socket } })
  t.equal(viaAgent.code, 0, viaAgent.stderr)
  t.match(viaAgent.stderr, /ssh-agent keys/, '-v names where the key comes from')
  t.equal(readFileSync(join(sshd.root, 'agent', 'd', 'b_s', 'conf', 'casa_distro.json'), 'utf8'), '{"via":"agent"}')

  const wrongKey = join(local, 'wrong_key')
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', wrongKey])
  const both = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, `${sshd.root}/agent2`)}' } }, ssh: { identityFile: ${JSON.stringify(wrongKey)}, knownHosts: ${JSON.stringify(sshd.knownHosts)} } }`)
  const fallback = await runCli(['-r', local, 'publish_build_workflows'], { env: { ...both.env, SSH_AUTH_SOCK: socket } })
  t.equal(fallback.code, 0, fallback.stderr)
  t.ok(existsSync(join(sshd.root, 'agent2', 'd', 'b_s', 'conf', 'casa_distro.json')), 'the key file refused, the agent key taken')

  execFileSync('ssh-add', ['-q', '-D'], { env: { ...process.env, SSH_AUTH_SOCK: socket }, stdio: 'ignore' })
  const empty = await runCli(['-r', local, 'publish_build_workflows'], { env: { ...onlyAgent.env, SSH_AUTH_SOCK: socket } })
  t.equal(empty.code, 1)
  t.match(empty.stderr, /^error: sftp:\/\/\S+: the server refused ssh-agent keys for user \S+\n$/, 'an empty agent: one line')
})

t.test('unreachable server and bad URLs: one line', async (t) => {
  const local = tempDir(t)
  mkdirSync(join(local, 'd', 'b_s', 'conf'), { recursive: true })
  writeFileSync(join(local, 'd', 'b_s', 'conf', 'casa_distro.json'), '{}')
  const closed = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: 'sftp://u@127.0.0.1:1/x' } }, ${sshConfig(sshd)} }`)
  const refused = await runCli(['-r', local, 'publish_build_workflows'], { env: closed.env })
  t.equal(refused.code, 1)
  t.match(refused.stderr, /^error: cannot connect to \[127\.0\.0\.1\]:1: connection refused\n$/)
  const password = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: 'sftp://u:hunter2@127.0.0.1/x' } } }`)
  const withPassword = await runCli(['-r', local, 'publish_build_workflows'], { env: password.env })
  t.equal(withPassword.code, 1)
  t.match(withPassword.stderr, /passwords in URLs are not supported/)
  t.notMatch(withPassword.stderr, /hunter2/, 'the password is not echoed')
})

t.test('a server that hangs up, before or during the handshake, and a dead ssh-agent: one line, no stack', async (t) => {
  const local = tempDir(t)
  mkdirSync(join(local, 'd', 'b_s', 'conf'), { recursive: true })
  writeFileSync(join(local, 'd', 'b_s', 'conf', 'casa_distro.json'), '{}')
  // not SSH servers: something listening that closes at once, or after an SSH banner
  const hangUp = createServer((socket) => socket.end())
  const bannerThenHangUp = createServer((socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n'))
  for (const server of [hangUp, bannerThenHangUp]) {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.teardown(() => server.close())
  }
  const port = (server: Server) => (server.address() as AddressInfo).port
  for (const [server, when] of [
    [hangUp, '(before|during) the SSH handshake'],
    [bannerThenHangUp, 'during the SSH handshake'],
  ] as const) {
    const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: 'sftp://u@127.0.0.1:${port(server)}/x' } }, ${sshConfig(sshd)} }`)
    const result = await runCli(['-r', local, 'publish_build_workflows'], { env: repo.env })
    t.equal(result.code, 1)
    t.match(result.stderr, new RegExp(`^error: sftp://u@\\[127\\.0\\.0\\.1\\]:${port(server)}: the server closed the connection ${when}\n$`))
  }
  // no key file, and SSH_AUTH_SOCK naming no agent (a shell of a session that is gone)
  const agentless = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, '/x')}' } }, ssh: { knownHosts: ${JSON.stringify(sshd.knownHosts)} } }`)
  const dead = await runCli(['-r', local, 'publish_build_workflows'], { env: { ...agentless.env, SSH_AUTH_SOCK: join(local, 'no-agent.sock') } })
  t.equal(dead.code, 1)
  t.match(dead.stderr, /^error: sftp:\/\/.*: ssh-agent failed: .*\n$/)
})

t.test('sftp hub with ssh.remoteCommands false: sha256 by download, same answers', async (t) => {
  const hub = await openHub(sftpUrl(sshd, `${sshd.root}/norc`), { ...ssh(), remoteCommands: false })
  t.teardown(() => hub.close())
  await exercise(t, hub, join(sshd.root, 'norc'))
})
