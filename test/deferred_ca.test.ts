// NODE_EXTRA_CA_CERTS through the launcher (bin/casa_distro_admin.js run as a program, its
// `#!/bin/sh` line): node starts without it, 50 ms sooner, and the certificates are trusted
// from this process's first TLS connection on. Checked against a real TLS server whose
// certificate only a test CA vouches for: our registry client, a site task's fetch and a
// config's fetch all trust it, programs the task starts see the variable as the user set it,
// and without the variable the same connections fail.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { binPath, runProgram } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const dir = tempDir(t, 'casa-deferred-ca-')
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] })
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=casa test CA')
openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.2')
writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.2\n')
openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext')
const caFile = join(dir, 'ca.pem')

// A TLS server on 127.0.0.2 (not 127.0.0.1, which the registry client speaks plain HTTP to):
// 404 with a JSON body to every request, as a registry answers for an absent manifest.
const server = createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) }, (request, response) => {
  response.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}')
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve))
t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
const host = `127.0.0.2:${(server.address() as AddressInfo).port}`

const repo = join(dir, 'repo')
const home = join(dir, 'home')
mkdirSync(join(repo, 'tasks'), { recursive: true })
mkdirSync(home)
// Each file leaves out the words of the other: the registry probe's TLS is our client's own.
writeFileSync(
  join(repo, 'tasks', 'probe_registry.ts'),
  `import { defineTask, $ } from 'casa-distro-admin'
export default defineTask({ name: 'probe_registry', summary: 'ask a registry for a manifest', options: {}, async run() {
  const { RegistryClient } = await import('casa-distro-admin/registry/registry')
  const manifest = await new RegistryClient(${JSON.stringify(host)}, 'casa/probe').getManifest('1')
  console.log('registry answered:', manifest === undefined ? 'absent' : 'present')
  console.log('a program sees:', (await $\`env\`).stdout.split('\\n').filter((line) => line.startsWith('NODE_EXTRA_CA_CERTS=') || line.startsWith('CASA_DEFERRED_CA_CERTS=')).join(' '))
} })
`,
)
writeFileSync(
  join(repo, 'tasks', 'probe_fetch.ts'),
  `import { defineTask } from 'casa-distro-admin'
export default defineTask({ name: 'probe_fetch', summary: 'fetch over TLS', options: {}, async run() {
  console.log('fetch answered:', (await fetch(${JSON.stringify(`https://${host}/`)})).status)
} })
`,
)
const plainConfig = `export default { namespace: 'casa-probe' }\n`
const fetchingConfig = `const answer = await fetch(${JSON.stringify(`https://${host}/`)})\nexport default { namespace: 'fetched-' + answer.status }\n`
const configFile = join(repo, 'casa.config.ts')

/** The command as a user runs it: the launcher itself, NODE_OPTIONS cleared (the test runner's would be inherited). */
function launch(args: string[], caCerts: string | undefined) {
  return runProgram(binPath, ['-r', repo, ...args], { env: { HOME: home, CASA_CONFIG: configFile, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: caCerts } })
}

t.test("our registry client trusts the deferred certificates; programs see the user's variable", async (t) => {
  writeFileSync(configFile, plainConfig)
  const r = await launch(['-v', 'probe_registry'], caFile)
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, 'registry answered: absent')
  t.match(r.stderr, `NODE_EXTRA_CA_CERTS ${caFile}: trusted from the first TLS connection on (the launcher deferred it)`, 'deferred by the launcher')
  t.equal(/a program sees: (.*)/.exec(r.stdout)?.[1], `NODE_EXTRA_CA_CERTS=${caFile}`, 'the variable as the user set it, and nothing else')

  const direct = await runProgram(process.execPath, [binPath, '-r', repo, '-v', 'probe_registry'], { env: { HOME: home, CASA_CONFIG: configFile, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: caFile } })
  t.equal(direct.code, 0, direct.stderr)
  t.match(direct.stdout, 'registry answered: absent', 'node bin/casa_distro_admin.js: node reads it itself')
  t.notMatch(direct.stderr, 'the launcher deferred it')

  const untrusted = await launch(['probe_registry'], undefined)
  t.not(untrusted.code, 0, 'without the CA the same request fails')
  t.match(untrusted.stderr, /certificate/i)
})

t.test("a site task's fetch and a config's fetch trust them too", async (t) => {
  writeFileSync(configFile, plainConfig)
  const task = await launch(['probe_fetch'], caFile)
  t.equal(task.code, 0, task.stderr)
  t.match(task.stdout, 'fetch answered: 404')
  t.not((await launch(['probe_fetch'], undefined)).code, 0, 'and fail without')

  writeFileSync(configFile, fetchingConfig)
  const config = await launch(['show_config'], caFile)
  t.equal(config.code, 0, config.stderr)
  t.match(config.stdout, /namespace: fetched-404/)
})

t.test('the launcher passes every word on as it was given', async (t) => {
  writeFileSync(configFile, plainConfig)
  const r = await launch(['help', `a b "c" $HOME 'd'`], caFile)
  t.equal(r.code, 2)
  t.match(r.stderr, `unknown task "a b "c" $HOME 'd'"`)
})

t.test('an unreadable file is a warning, as node gives, and the bundled roots still apply', async (t) => {
  writeFileSync(configFile, plainConfig)
  const r = await launch(['probe_fetch'], join(dir, 'absent.pem'))
  t.not(r.code, 0, 'the test CA is not trusted')
  t.match(r.stderr, `Ignoring extra certs from \`${join(dir, 'absent.pem')}\`, load failed`)
})
