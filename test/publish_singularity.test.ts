// publish_singularity end to end: a real SIF made by create_singularity, pushed as an ORAS
// artifact to the reference registry (htpasswd auth, credentials from a docker config file),
// checked over the registry HTTP API and with skopeo; to server hubs (file://, and sftp://
// to OpenSSH sshd on loopback) with an HTTP download URL; inspect_singularity on the same file.
import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { createServer as createHttpServer, request as httpRequest } from 'node:http'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { basename, join } from 'node:path'
import { Readable } from 'node:stream'
import { RegistryClient } from '../lib/registry/registry.js'
import { publishToServer, type ServerHub } from '../lib/singularity/sifPublish.js'
import type { SingularityItem } from '../lib/singularity/singularityPlan.js'
import { runCli } from './helpers/cli.js'
import { ensureBusyboxImage, startHttpServer, startRegistry, startSshd } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

// A tag unique to this run: the same test file may run at once in another clone.
const tag = `2.0-r${process.pid}`
const image = `casa-test-sifpub/small:${tag}`
const sifName = `casa-test-sifpub_small_${tag}.sif`
const base = ensureBusyboxImage()
execFileSync('docker', ['tag', base, image])
t.teardown(() => {
  spawnSync('docker', ['image', 'rm', image])
})

function repository(config: string): { dir: string; env: Record<string, string> } {
  const dir = tempDir(t, 'casa-sifpub-repo-')
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), `export default ${config}\n`)
  return { dir, env: { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts'), DOCKER_CONFIG: join(home, '.docker') } }
}

t.test('ORAS push to an authenticated registry, digests checked, skipped when up to date', async (t) => {
  const auth = { user: 'casa', password: 'pub-s3cret' }
  const registry = await startRegistry({ auth })
  t.teardown(registry.stop)
  const repo = repository(`{ hubs: { singularity: { upload: 'oras://${registry.host}/casa-test' } } }`)
  mkdirSync(repo.env.DOCKER_CONFIG!)
  writeFileSync(join(repo.env.DOCKER_CONFIG!, 'config.json'), JSON.stringify({ auths: { [registry.host]: { auth: Buffer.from(`${auth.user}:${auth.password}`).toString('base64') } } }))

  const created = await runCli(['-r', repo.dir, 'create_singularity', 'casa-test-sifpub/*'], { env: repo.env })
  t.equal(created.code, 0, created.stderr)
  const sif = join(repo.dir, sifName)
  const digest = `sha256:${createHash('sha256').update(readFileSync(sif)).digest('hex')}`

  const inspected = await runCli(['inspect_singularity', sif])
  t.equal(inspected.code, 0, inspected.stderr)
  t.match(inspected.stdout, /FS \(Squashfs\/\*System\/amd64\)/)
  t.match(inspected.stdout, new RegExp(`docker image: casa-test-sifpub/small:${tag.replace(/\./g, '\\.')} \\(sha256:`))
  t.match(inspected.stdout, new RegExp(`md5: ${readFileSync(`${sif}.md5`, 'utf8').trim()}`))

  const pushed = await runCli(['-r', repo.dir, 'publish_singularity', 'casa-test-sifpub/*'], { env: repo.env })
  t.equal(pushed.code, 0, pushed.stderr)
  t.match(pushed.stderr, /pushed to oras:\/\//)
  t.notMatch(pushed.stderr + pushed.stdout, auth.password, 'the password is never printed')

  const basic = { authorization: `Basic ${Buffer.from(`${auth.user}:${auth.password}`).toString('base64')}` }
  const response = await fetch(`http://${registry.host}/v2/casa-test/small/manifests/${tag}`, { headers: { ...basic, accept: 'application/vnd.oci.image.manifest.v1+json' } })
  t.equal(response.status, 200)
  const manifestBytes = Buffer.from(await response.arrayBuffer())
  t.equal(response.headers.get('docker-content-digest'), `sha256:${createHash('sha256').update(manifestBytes).digest('hex')}`, 'manifest digest')
  const manifest = JSON.parse(manifestBytes.toString())
  t.equal(manifest.config.mediaType, 'application/vnd.sylabs.sif.config.v1+json')
  t.equal(manifest.layers.length, 1)
  t.equal(manifest.layers[0].mediaType, 'application/vnd.sylabs.sif.layer.v1.sif')
  t.equal(manifest.layers[0].digest, digest, 'layer digest = sha256 of the SIF file')
  t.equal(manifest.layers[0].size, readFileSync(sif).length)
  t.equal(manifest.layers[0].annotations['org.opencontainers.image.title'], sifName)
  const blob = await fetch(`http://${registry.host}/v2/casa-test/small/blobs/${digest}`, { headers: basic })
  t.equal(`sha256:${createHash('sha256').update(Buffer.from(await blob.arrayBuffer())).digest('hex')}`, digest, 'the stored blob is the SIF file')

  const skopeo = JSON.parse(
    execFileSync('skopeo', ['inspect', '--raw', '--tls-verify=false', '--creds', `${auth.user}:${auth.password}`, `docker://${registry.host}/casa-test/small:${tag}`], { encoding: 'utf8' }),
  )
  t.equal(skopeo.layers[0].digest, digest, 'skopeo sees the same layer')

  const again = await runCli(['-r', repo.dir, 'publish_singularity', 'casa-test-sifpub/*'], { env: repo.env })
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, /up to date in oras:\/\//)
})

t.test('ORAS push without a docker login: one line saying so', async (t) => {
  const registry = await startRegistry({ auth: { user: 'casa', password: 'x' } })
  t.teardown(registry.stop)
  const repo = repository(`{ hubs: { singularity: { upload: 'oras://${registry.host}/casa-test' } } }`)
  const created = await runCli(['-r', repo.dir, 'create_singularity', 'casa-test-sifpub/*'], { env: repo.env })
  t.equal(created.code, 0, created.stderr)
  const pushed = await runCli(['-r', repo.dir, 'publish_singularity', 'casa-test-sifpub/*'], { env: repo.env })
  t.equal(pushed.code, 1)
  t.match(pushed.stderr, /error: registry 127\.0\.0\.1:\d+ needs a login: run docker login/)
  t.notMatch(pushed.stderr, /\n\s+at /, 'no stack trace')
})

/** A registry that takes connections and then says nothing (or, with `stall`, starts an answer and never ends it). */
async function silentRegistry(t: Test, options: { stall?: boolean } = {}): Promise<string> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    if (options.stall) socket.once('data', () => socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n{'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const socket of sockets) socket.destroy()
    server.close()
  })
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('an ORAS registry that never answers: one line after CASA_REGISTRY_TIMEOUT seconds', async (t) => {
  let repo = repository('{}')
  for (const stall of [false, true]) {
    const host = await silentRegistry(t, { stall })
    repo = repository(`{ hubs: { singularity: { upload: 'oras://${host}/casa-test' } } }`)
    const created = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
    t.equal(created.code, 0, created.stderr)
    const started = Date.now()
    const pushed = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: { ...repo.env, CASA_REGISTRY_TIMEOUT: '1' }, kill: { signal: 'SIGKILL', afterMs: 60_000 } })
    t.ok(Date.now() - started < 30_000, `${stall ? 'headers sent, the body never ends' : 'no answer at all'}: over within seconds, not the 300 s of undici's defaults`)
    t.equal(pushed.code, 1, pushed.stderr)
    const said = pushed.stderr.trim().split('\n').filter((l) => !/^\d\d:\d\d:\d\d /.test(l))
    t.same(said, [`error: registry ${host} did not answer within 1 s`], 'one line (progress lines aside)')
    t.notMatch(pushed.stderr, /\n\s+at |internal error/, 'no stack trace')
  }

  const bad = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: { ...repo.env, CASA_REGISTRY_TIMEOUT: 'soon' }, kill: { signal: 'SIGKILL', afterMs: 60_000 } })
  t.equal(bad.code, 1, bad.stderr)
  t.same(bad.stderr.trim().split('\n').filter((l) => !/^\d\d:\d\d:\d\d /.test(l)), ['error: CASA_REGISTRY_TIMEOUT=soon: expected a number of seconds above 0, at most 86400 (a day)'])
})

t.test('CASA_REGISTRY_TIMEOUT out of what timers take: a tiny one still times out in one line, a huge one is refused', async (t) => {
  const host = await silentRegistry(t)
  const repo = repository(`{ hubs: { singularity: { upload: 'oras://${host}/casa-test' } } }`)
  const created = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(created.code, 0, created.stderr)
  const said = (stderr: string) => stderr.trim().split('\n').filter((l) => !/^\d\d:\d\d:\d\d /.test(l))
  const tiny = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: { ...repo.env, CASA_REGISTRY_TIMEOUT: '0.0001' }, kill: { signal: 'SIGKILL', afterMs: 60_000 } })
  t.equal(tiny.code, 1, tiny.stderr)
  t.same(said(tiny.stderr), [`error: registry ${host} did not answer within 0.0001 s`], 'a timeout, not "unreachable: headersTimeout must be a positive integer"')
  // Past 2^31 ms Node's timers fire at once (TimeoutOverflowWarning): a day is the most.
  const huge = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: { ...repo.env, CASA_REGISTRY_TIMEOUT: '3000000' }, kill: { signal: 'SIGKILL', afterMs: 60_000 } })
  t.equal(huge.code, 1, huge.stderr)
  t.same(said(huge.stderr), ['error: CASA_REGISTRY_TIMEOUT=3000000: expected a number of seconds above 0, at most 86400 (a day)'])
})

/**
 * A proxy in front of a real registry that holds back its answer to the PUT completing each
 * blob upload (the one with ?digest=) by `delayMs`, or for ever: what a registry whose storage
 * driver copies the blob before answering (S3: minutes for GBs) looks like.
 */
async function slowCommitProxy(t: Test, target: string, delayMs: number): Promise<{ host: string; held: string[] }> {
  const held: string[] = []
  const pending = new Set<NodeJS.Timeout>()
  const server = createHttpServer((req, res) => {
    const body: Buffer[] = []
    req.on('data', (c: Buffer) => body.push(c))
    req.on('end', () => {
      const forward = httpRequest(`http://${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
        const commit = req.method === 'PUT' && /[?&]digest=/.test(req.url ?? '')
        if (commit) held.push(req.url!)
        if (commit && delayMs === Infinity) return answer.resume()
        const timer = setTimeout(() => {
          pending.delete(timer)
          res.writeHead(answer.statusCode!, answer.headers)
          answer.pipe(res)
        }, commit ? delayMs : 0)
        pending.add(timer)
      })
      forward.on('error', () => res.destroy())
      forward.end(Buffer.concat(body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    for (const timer of pending) clearTimeout(timer)
    server.closeAllConnections()
    server.close()
  })
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, held }
}

t.test('a registry slow to confirm a blob it received: the push waits for it, past CASA_REGISTRY_TIMEOUT', async (t) => {
  const registry = await startRegistry()
  t.teardown(registry.stop)
  const proxy = await slowCommitProxy(t, registry.host, 3000)
  const repo = repository(`{ hubs: { singularity: { upload: 'oras://${proxy.host}/casa-test' } } }`)
  const created = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(created.code, 0, created.stderr)
  const pushed = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: { ...repo.env, CASA_REGISTRY_TIMEOUT: '1' }, kill: { signal: 'SIGKILL', afterMs: 60_000 } })
  t.equal(pushed.code, 0, pushed.stderr)
  t.match(pushed.stderr, /pushed to oras:\/\//)
  t.equal(proxy.held.length, 2, 'both blob uploads (config and SIF) were answered 3 s late')
  const digest = `sha256:${createHash('sha256').update(readFileSync(join(repo.dir, sifName))).digest('hex')}`
  const manifest = await fetch(`http://${registry.host}/v2/casa-test/small/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })
  t.equal(manifest.status, 200, 'the tag is in the registry')
  t.equal((await manifest.json()).layers[0].digest, digest, 'holding the SIF file')
})

t.test('a registry that never confirms a blob it received: one line, after a longer but bounded wait', async (t) => {
  const registry = await startRegistry()
  t.teardown(registry.stop)
  const proxy = await slowCommitProxy(t, registry.host, Infinity)
  const repo = repository(`{ hubs: { singularity: { upload: 'oras://${proxy.host}/casa-test' } } }`)
  const created = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(created.code, 0, created.stderr)
  const started = Date.now()
  const pushed = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: { ...repo.env, CASA_REGISTRY_TIMEOUT: '1' }, kill: { signal: 'SIGKILL', afterMs: 60_000 } })
  t.ok(Date.now() - started < 40_000, 'over well before the test kills it')
  t.equal(pushed.code, 1, pushed.stderr)
  const said = pushed.stderr.trim().split('\n').filter((l) => !/^\d\d:\d\d:\d\d /.test(l))
  t.match(said, [/^error: registry 127\.0\.0\.1:\d+ did not confirm the upload of sha256:[0-9a-f]{64} within \d+ s$/], 'one line (progress lines aside)')
  t.equal(said.length, 1)
  t.notMatch(pushed.stderr, /\n\s+at |internal error/, 'no stack trace')
})

t.test('a registry that stops reading an upload half way: one line after CASA_REGISTRY_TIMEOUT seconds, not the commit wait', async (t) => {
  // The client directly: a SIF file large enough to fill the loopback socket buffers would
  // take the busybox image many times over. The server is real HTTP; it stops reading the PUT.
  const server = createHttpServer((req, res) => {
    if (req.method === 'HEAD') return res.writeHead(404).end()
    if (req.method === 'POST') return res.writeHead(202, { location: '/v2/casa-test/big/blobs/uploads/1' }).end()
    req.pause() // and never answers
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  process.env.CASA_REGISTRY_TIMEOUT = '1'
  t.teardown(() => void delete process.env.CASA_REGISTRY_TIMEOUT)
  const client = new RegistryClient(host, 'casa-test/big')
  const size = 256 << 20
  const chunk = Buffer.alloc(1 << 20)
  const started = Date.now()
  await t.rejects(
    client.pushBlob({ digest: `sha256:${'0'.repeat(64)}`, size, open: () => Readable.from((function* () { for (let sent = 0; sent < size; sent += chunk.length) yield chunk })()) }),
    { name: 'UserError', message: `registry ${host} stopped taking the upload of sha256:${'0'.repeat(64)} for 1 s` },
  )
  t.ok(Date.now() - started < 8_000, 'within seconds, not the commit wait of 10 s and more')
})

/** A server hub recording the puts in order and storing them in `dir` (as lib/hubs/transport would). */
function recordingHub(dir: string): ServerHub & { puts: string[] } {
  const puts: string[] = []
  return {
    puts,
    async put(local, remote) {
      puts.push(remote)
      writeFileSync(join(dir, remote), readFileSync(local))
    },
    async close() {},
  }
}

t.test('server hub order: the image, then .dockerid, then .md5 last; skipped when the HTTP download URL serves the same md5', async (t) => {
  // The hub here is a recorder (the order of puts is what is checked); the download URL is
  // a real HTTP server over the directory the recorder writes to.
  const dir = tempDir(t)
  const local = join(dir, 'local')
  const served = join(dir, 'www')
  mkdirSync(local)
  mkdirSync(served)
  const file = join(local, 'ns_img_1.sif')
  writeFileSync(file, 'sif bytes')
  writeFileSync(`${file}.md5`, `${createHash('md5').update('sif bytes').digest('hex')}\n`)
  writeFileSync(`${file}.dockerid`, 'sha256:abc\n')
  const item: SingularityItem = { reference: 'ns/img:1', tag: '1', imageId: 'sha256:abc', file, upToDate: true }
  const http = await startHttpServer(served)
  t.teardown(http.stop)

  const hub = recordingHub(served)
  t.equal(await publishToServer(item, hub, http.url), 'uploaded')
  t.same(hub.puts, ['ns_img_1.sif', 'ns_img_1.sif.dockerid', 'ns_img_1.sif.md5'], '.md5 uploaded last')
  const again = recordingHub(served)
  t.equal(await publishToServer(item, again, `${http.url}/`), 'up to date')
  t.same(again.puts, [], 'nothing uploaded when up to date')
  writeFileSync(join(served, 'ns_img_1.sif.md5'), 'something else\n')
  t.equal(await publishToServer(item, recordingHub(served), http.url), 'uploaded', 'a different remote md5 means upload')

  const missing = { ...item, file: join(local, 'absent.sif') }
  await t.rejects(publishToServer(missing, recordingHub(served), http.url), /absent\.sif\.md5 is missing: run create_singularity ns\/img:1 first/)
})

/** create_singularity, publish, check the hub directory, publish again (skipped). */
async function publishToServerHub(t: Test, hubDir: string, config: string, scheme: string): Promise<void> {
  const repo = repository(config)
  repo.env.SSH_AUTH_SOCK = '' // the key comes from the config, as on a build machine
  const created = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(created.code, 0, created.stderr)
  const sif = join(repo.dir, sifName)

  const published = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: repo.env })
  t.equal(published.code, 0, published.stderr)
  t.match(published.stderr, new RegExp(`${image.replace(/\./g, '\\.')}: uploaded to ${scheme}://`))
  t.same(readFileSync(join(hubDir, sifName)), readFileSync(sif), 'the image on the hub = the local image')
  t.equal(readFileSync(join(hubDir, `${sifName}.md5`), 'utf8'), readFileSync(`${sif}.md5`, 'utf8'))
  t.equal(readFileSync(join(hubDir, `${sifName}.dockerid`), 'utf8'), readFileSync(`${sif}.dockerid`, 'utf8'))
  t.ok(statSync(join(hubDir, `${sifName}.md5`)).mtimeMs >= statSync(join(hubDir, sifName)).mtimeMs, '.md5 landed after the image')
  t.same(readdirSync(hubDir).filter((n) => !n.startsWith(basename(sif))), ['images.json', 'index.html'], 'no temporary file left on the hub, the index beside the image')
  t.same(JSON.parse(readFileSync(join(hubDir, 'images.json'), 'utf8')).images.map((e: { file: string }) => e.file), [sifName], 'the image is in the index')

  const again = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: repo.env })
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, new RegExp(`${image.replace(/\./g, '\\.')}: up to date on ${scheme}://`))
}

t.test('publish_singularity to a file:// hub served over HTTP', async (t) => {
  const hubDir = join(tempDir(t), 'www')
  mkdirSync(hubDir)
  const http = await startHttpServer(hubDir)
  t.teardown(http.stop)
  await publishToServerHub(t, hubDir, `{ hubs: { singularity: { upload: 'file://${hubDir}', download: '${http.url}' } } }`, 'file')
})

t.test('publish_singularity to an sftp:// hub (OpenSSH sshd on loopback) served over HTTP', async (t) => {
  const sshd = await startSshd()
  t.teardown(sshd.stop)
  const hubDir = join(sshd.root, 'casa-distro')
  mkdirSync(hubDir)
  const http = await startHttpServer(hubDir)
  t.teardown(http.stop)
  const ssh = `ssh: { identityFile: ${JSON.stringify(sshd.clientKey)}, knownHosts: ${JSON.stringify(sshd.knownHosts)} }`
  await publishToServerHub(t, hubDir, `{ hubs: { singularity: { upload: 'sftp://${sshd.user}@127.0.0.1:${sshd.port}${hubDir}', download: '${http.url}' } }, ${ssh} }`, 'sftp')
})

t.test('a truncated SIF (a cut copy, a full disk): create_singularity converts it again, publish_singularity refuses it', async (t) => {
  const hubDir = join(tempDir(t), 'hub')
  mkdirSync(hubDir)
  const repo = repository(`{ hubs: { singularity: { upload: 'file://${hubDir}' } } }`)
  const created = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(created.code, 0, created.stderr)
  const sif = join(repo.dir, sifName)
  const whole = statSync(sif).size
  const md5 = readFileSync(`${sif}.md5`, 'utf8')
  truncateSync(sif, whole - 4096) // the .md5 and .dockerid beside it still describe the whole file
  const cutInode = statSync(sif).ino

  const published = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: repo.env })
  t.equal(published.code, 1, published.stderr)
  const said = published.stderr.trim().split('\n').filter((l) => !/^\d\d:\d\d:\d\d /.test(l))
  t.same(said, [`error: ${sif} is truncated (${whole - 4096} bytes, its SIF header says ${whole}): run create_singularity ${image}`])
  t.same(readdirSync(hubDir), [], 'nothing uploaded')

  const plan = await runCli(['-r', repo.dir, 'create_singularity', '--dry-run', image], { env: repo.env })
  t.equal(plan.code, 0, plan.stderr)
  t.match(plan.stdout, new RegExp(`${sifName.replace(/\./g, '\\.')}\\s+convert`), 'not up to date')
  const again = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, `${sif} is truncated (${whole - 4096} bytes, its SIF header says ${whole}): converting it again`)
  t.equal(statSync(sif).size, whole, 'whole again')
  t.equal(readFileSync(`${sif}.md5`, 'utf8').trim(), createHash('md5').update(readFileSync(sif)).digest('hex'), 'and its .md5 describes it')
  t.not(statSync(sif).ino, cutInode, 'a new conversion, renamed into place')
  t.equal(readFileSync(`${sif}.md5`, 'utf8'), md5, 'reproducible: the same bytes as the first conversion of the same image')

  const cut = Buffer.alloc(64)
  writeFileSync(sif, cut) // shorter than a SIF header
  const tiny = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: repo.env })
  t.equal(tiny.code, 1, tiny.stderr)
  t.match(tiny.stderr, `error: ${sif} is truncated (64 bytes, shorter than a SIF header): run create_singularity ${image}`)
})

t.test('a .sif overwritten by something that is no SIF (zeros, another file): not up to date, not published', async (t) => {
  const hubDir = join(tempDir(t), 'hub')
  mkdirSync(hubDir)
  const repo = repository(`{ hubs: { singularity: { upload: 'file://${hubDir}' } } }`)
  const created = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(created.code, 0, created.stderr)
  const sif = join(repo.dir, sifName)
  // Whole-file sizes: a header of zeros records a data end of 0, which no size is short of.
  for (const content of [Buffer.alloc(statSync(sif).size), Buffer.from(`<html>${'x'.repeat(200_000)}</html>`)]) {
    writeFileSync(sif, content)
    const published = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: repo.env })
    t.equal(published.code, 1, published.stderr)
    t.match(published.stderr, `error: ${sif} is not a SIF file (no SIF header): run create_singularity ${image}`)
    t.same(readdirSync(hubDir), [], 'nothing uploaded')
    const plan = await runCli(['-r', repo.dir, 'create_singularity', '--dry-run', image], { env: repo.env })
    t.equal(plan.code, 0, plan.stderr)
    t.match(plan.stdout, new RegExp(`${sifName.replace(/\./g, '\\.')}\\s+convert`), 'not up to date')
  }
})

/**
 * A proxy in front of a real registry that runs `change` when the registry is first asked
 * whether it has the blob `digest`: after the digest of the SIF file was taken, before the
 * upload opens the file again to send it.
 */
async function changeOnBlobCheck(t: Test, target: string, digest: string, change: () => void): Promise<string> {
  const server = createHttpServer((req, res) => {
    if (req.method === 'HEAD' && req.url?.endsWith(`/blobs/${digest}`)) change()
    const forward = httpRequest(`http://${target}${req.url}`, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers)
      answer.pipe(res)
    })
    forward.on('error', () => res.destroy())
    req.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => {
    server.closeAllConnections()
    server.close()
  })
  return `127.0.0.1:${(server.address() as AddressInfo).port}`
}

t.test('the SIF file cannot be read during its ORAS upload: one line naming the file, no tag pushed', async (t) => {
  const registry = await startRegistry()
  t.teardown(registry.stop)
  const repo = repository('{}')
  const created = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(created.code, 0, created.stderr)
  const sif = join(repo.dir, sifName)
  const saved = readFileSync(sif)
  const digest = `sha256:${createHash('sha256').update(saved).digest('hex')}`
  const changes: [string, RegExp, () => void][] = [
    ['replaced by a shorter file', /it changed during the upload \(4096 bytes instead of \d+\)$/, () => (writeFileSync(`${sif}.new`, saved.subarray(0, 4096)), renameSync(`${sif}.new`, sif))],
    ['overwritten with as many other bytes', /it changed during the upload \(other bytes than those whose digest was taken\)$/, () => writeFileSync(sif, Buffer.alloc(saved.length, 1))],
    ['replaced by a directory', /EISDIR/, () => (rmSync(sif), mkdirSync(sif))],
    ['removed', /ENOENT/, () => rmSync(sif)],
  ]
  for (const [i, [what, reason, change]] of changes.entries()) {
    rmSync(sif, { recursive: true, force: true })
    writeFileSync(sif, saved)
    let changed = false
    const proxy = await changeOnBlobCheck(t, registry.host, digest, () => {
      if (!changed) change()
      changed = true
    })
    writeFileSync(join(repo.dir, 'casa.config.ts'), `export default { hubs: { singularity: { upload: 'oras://${proxy}/case${i}' } } }\n`)
    const pushed = await runCli(['-r', repo.dir, 'publish_singularity', image], { env: repo.env })
    t.ok(changed, `${what}: the file was changed during the push`)
    t.equal(pushed.code, 1, pushed.stderr)
    const said = pushed.stderr.trim().split('\n').filter((l) => !/^\d\d:\d\d:\d\d /.test(l))
    t.equal(said.length, 1, `${what}: one line: ${pushed.stderr}`)
    t.match(said[0], new RegExp(`^error: cannot read ${sif.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `), `${what}: names the file, not the registry`)
    t.match(said[0], reason, what)
    t.notMatch(pushed.stderr, /unreachable|\n\s+at |internal error/)
    const manifest = await fetch(`http://${registry.host}/v2/case${i}/small/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })
    t.equal(manifest.status, 404, `${what}: no tag pushed`)
    const blob = await fetch(`http://${registry.host}/v2/case${i}/small/blobs/${digest}`, { method: 'HEAD' })
    t.equal(blob.status, 404, `${what}: no SIF blob stored`)
  }
})
