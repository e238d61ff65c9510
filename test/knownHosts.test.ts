// known_hosts matching as OpenSSH does it: plain, hashed, [host]:port, wildcards, negation,
// @revoked and @cert-authority lines; verdicts for a server key.
import t from 'tap'
import { createHmac, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkHostKey, fingerprint, knownHostsName, knownKeys } from '../lib/hubs/knownHosts.js'
import { tempDir } from './helpers/tmp.js'

const blob = (n: number) => {
  const type = Buffer.from('ssh-ed25519')
  const key = Buffer.alloc(32, n)
  const out = Buffer.alloc(4 + type.length + 4 + key.length)
  out.writeUInt32BE(type.length, 0)
  type.copy(out, 4)
  out.writeUInt32BE(key.length, 4 + type.length)
  key.copy(out, 8 + type.length)
  return out
}
const line = (hosts: string, n: number) => `${hosts} ssh-ed25519 ${blob(n).toString('base64')}`
const hashed = (name: string) => {
  const salt = randomBytes(20)
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`
}

t.test('matching and verdicts', async (t) => {
  const file = join(tempDir(t), 'known_hosts')
  writeFileSync(
    file,
    [
      '# comment',
      line('files.example.org,10.0.0.1', 1),
      line('[files.example.org]:2222', 2),
      line(hashed('[hashed.example.org]:2200'), 3),
      line('*.cluster.example.org,!bad.cluster.example.org', 4),
      `@revoked ${line('old.example.org', 5)}`,
      line('old.example.org', 6),
      `@cert-authority ${line('*.example.org', 7)}`,
      '',
    ].join('\n'),
  )
  t.equal(knownHostsName('h', 22), 'h')
  t.equal(knownHostsName('h', 2222), '[h]:2222')
  t.same(knownKeys(file, 'files.example.org', 22).map((k) => k.line), [2], 'port 22: the plain name')
  t.same(knownKeys(file, '10.0.0.1', 22).map((k) => k.line), [2])
  t.same(knownKeys(file, 'files.example.org', 2222).map((k) => k.line), [3], 'another port: [host]:port only')
  t.same(knownKeys(file, 'hashed.example.org', 2200).map((k) => k.line), [4], 'hashed entry')
  t.same(knownKeys(file, 'hashed.example.org', 22), [], 'hashed entry of another port')
  t.same(knownKeys(file, 'node1.cluster.example.org', 22).map((k) => k.line), [5], 'wildcard')
  t.same(knownKeys(file, 'bad.cluster.example.org', 22), [], 'negated pattern')
  t.same(knownKeys(file, 'x.example.org', 22), [], '@cert-authority lines are not host keys')
  t.same(knownKeys(join(tempDir(t), 'absent'), 'h', 22), [], 'a missing file lists nothing')

  t.same(checkHostKey(knownKeys(file, 'files.example.org', 22), blob(1)), { ok: true })
  t.same(checkHostKey(knownKeys(file, 'files.example.org', 22), blob(9)), { ok: false, reason: 'changed', line: 2 })
  t.same(checkHostKey(knownKeys(file, 'new.example.org', 22), blob(1)), { ok: false, reason: 'unknown' })
  t.same(checkHostKey(knownKeys(file, 'old.example.org', 22), blob(5)), { ok: false, reason: 'revoked', line: 6 })
  t.same(checkHostKey(knownKeys(file, 'old.example.org', 22), blob(6)), { ok: true })
  t.match(fingerprint(blob(1)), /^SHA256:[A-Za-z0-9+/]{43}$/)
})

t.test('a missing known_hosts lists no key; one that cannot be read is an error, not an empty file', async (t) => {
  const dir = tempDir(t)
  t.same(knownKeys(join(dir, 'absent'), 'example.org', 22), [])
  t.throws(() => knownKeys(dir, 'example.org', 22), { name: 'UserError', message: new RegExp(`cannot read known_hosts file ${dir}: EISDIR`) })
})
