// SIF signatures against a judge that is not ours: the SIF library's own pkg/integrity (what
// `apptainer sign` and `apptainer verify` run, test/helpers/sifJudge.ts). Our signatures are
// verified by it, its signatures by ours; a flipped byte in any signed object, a foreign key,
// a truncated file are refused by both. Keys are Apptainer-style keyrings (binary
// pgp-secret/pgp-public, written by the judge as Apptainer writes them) and armored copies.
// The SIF files are written with our own writer (a random "partition": no docker needed here,
// except for sign_singularity, which finds files through local docker images).
import t, { type Test } from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import { basename, join } from 'node:path'
import * as openpgp from 'openpgp'
import { dataTypes, planSif } from '../lib/sif/sifWriter.js'
import { readSif } from '../lib/sif/sifReader.js'
import { signSif } from '../lib/sif/sifSignature.js'
import { readSecretKeys } from '../lib/sif/pgpKeys.js'
import { runCli } from './helpers/cli.js'
import { judge } from './helpers/sifJudge.js'
import { ensureBusyboxImage } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

const dir = tempDir(t, 'casa-sif-sign-')
const env = { HOME: join(dir, 'home') }
mkdirSync(env.HOME)

function keyring(name: string): { dir: string; fingerprint: string } {
  const keys = join(dir, name)
  mkdirSync(keys)
  const made = judge('genkey', name, keys)
  if (made.code !== 0) throw new Error(made.output)
  return { dir: keys, fingerprint: made.output.trim() }
}
const alice = keyring('Alice')
const bob = keyring('Bob')

let count = 0
/** A small SIF as our writer makes them: definition file, labels, a (random) partition. */
function sif(name = `image-${++count}.sif`): string {
  const path = join(dir, name)
  const plan = planSif({
    objects: [
      { type: dataTypes.deffile, name: 'definition-file', data: Buffer.from('bootstrap: docker-daemon\nfrom: casa/test:1\n') },
      { type: dataTypes.labels, name: 'labels.json', data: Buffer.from('{"org.casa-distro.docker.image":"casa/test:1"}') },
    ],
    partitionSize: 256 * 1024,
    arch: 'amd64',
  })
  writeFileSync(path, Buffer.concat([plan.head, randomBytes(plan.partitionSize)]))
  return path
}

async function signedByUs(key = join(alice.dir, 'secret.asc')): Promise<string> {
  const path = sif()
  const [secret] = await readSecretKeys(key)
  const result = await signSif(path, secret!)
  if (!result.signed) throw new Error('not signed')
  return path
}

function signedByJudge(keys = alice.dir): string {
  const path = sif()
  const signed = judge('sign', path, join(keys, 'pgp-secret'))
  if (signed.code !== 0) throw new Error(signed.output)
  return path
}

const verify = (path: string, keys: string) => runCli(['verify_singularity', path, `keyring=${keys}`], { env })

function flip(path: string, offset: number): void {
  const fd = openSync(path, 'r+')
  const byte = Buffer.alloc(1)
  readSync(fd, byte, 0, 1, offset)
  byte[0] = byte[0]! ^ 0x01
  writeSync(fd, byte, 0, 1, offset)
  closeSync(fd)
}

const oneErrorLine = (t: Test, r: { code: number; stderr: string }, pattern: RegExp) => {
  t.equal(r.code, 1, r.stderr)
  t.match(r.stderr, pattern)
  t.notMatch(r.stderr, /internal error|\n\s+at /, 'no stack trace')
  t.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
}

t.test('our signature is verified by pkg/integrity, and by verify_singularity', async (t) => {
  const path = await signedByUs()
  const judged = judge('verify', path, join(alice.dir, 'pgp-public'))
  t.equal(judged.code, 0, judged.output)
  t.match(judged.output, `verified by ${alice.fingerprint}`)
  const sifFile = await readSif(path)
  const signature = sifFile.descriptors.find((d) => d.type === dataTypes.signature)!
  t.equal(signature.linkedId, (1 | 0xf0000000) >>> 0, 'linked to object group 1')
  for (const keys of [join(alice.dir, 'pgp-public'), join(alice.dir, 'public.asc')]) {
    const ours = await verify(path, keys)
    t.equal(ours.code, 0, ours.stderr)
    t.match(ours.stdout, `verified, signed by ${alice.fingerprint}`)
  }
})

t.test('a signature made by pkg/integrity is verified by ours', async (t) => {
  const path = signedByJudge()
  const ours = await verify(path, join(alice.dir, 'public.asc'))
  t.equal(ours.code, 0, ours.stderr)
  t.match(ours.stdout, `signed by ${alice.fingerprint}`)
})

t.test('a flipped byte in any signed object is refused by both', async (t) => {
  for (const [signer, make] of [['ours', () => signedByUs()], ['pkg/integrity', async () => signedByJudge()]] as const) {
    const reference = await make()
    const layout = await readSif(reference)
    const objects = layout.descriptors.filter((d) => d.type !== dataTypes.signature)
    const targets: Array<[string, number, RegExp]> = [
      ['header (image id)', 50, /digest mismatch: the header/],
      ...objects.map((d): [string, number, RegExp] => [`object ${d.id}`, d.offset + Math.floor(d.size / 2), new RegExp(`digest mismatch: object ${d.id} \\(`)]),
      ['descriptor of the partition (name)', 4096 + 2 * 585 + 73, /digest mismatch: the descriptor of object 3 /],
    ]
    for (const [what, offset, pattern] of targets) {
      const copy = join(dir, `flipped-${++count}.sif`)
      copyFileSync(reference, copy)
      flip(copy, offset)
      t.not(judge('verify', copy, join(alice.dir, 'pgp-public')).code, 0, `${signer}, ${what}: refused by pkg/integrity`)
      oneErrorLine(t, await verify(copy, join(alice.dir, 'pgp-public')), pattern)
    }
  }
})

t.test('a foreign key is refused by both, naming its fingerprint', async (t) => {
  for (const path of [await signedByUs(join(bob.dir, 'secret.asc')), signedByJudge(bob.dir)]) {
    t.not(judge('verify', path, join(alice.dir, 'pgp-public')).code, 0, 'refused by pkg/integrity')
    oneErrorLine(t, await verify(path, join(alice.dir, 'pgp-public')), new RegExp(`signed by a key not in the keyring: ${bob.fingerprint}`))
  }
})

t.test('truncated, unsigned, not a SIF: refused, one line each, exit 1', async (t) => {
  const truncated = await signedByUs()
  truncateSync(truncated, readFileSync(truncated).length - 100)
  t.not(judge('verify', truncated, join(alice.dir, 'pgp-public')).code, 0, 'truncated: refused by pkg/integrity')
  oneErrorLine(t, await verify(truncated, join(alice.dir, 'pgp-public')), /truncated \(/)
  oneErrorLine(t, await verify(sif(), join(alice.dir, 'pgp-public')), /: no signature$/m)
  const text = join(dir, 'page.sif')
  writeFileSync(text, '<html>not found</html>\n')
  oneErrorLine(t, await verify(text, join(alice.dir, 'pgp-public')), /not a SIF file/)
  // several files: one line for each, exit 1 when any fails
  const good = await signedByUs()
  const both = await runCli(['verify_singularity', good, text, `keyring=${join(alice.dir, 'pgp-public')}`], { env })
  t.equal(both.code, 1)
  t.match(both.stdout, 'verified')
  t.match(both.stderr, /page\.sif: not a SIF file/)
})

t.test('the default keyring is Apptainer\'s ~/.apptainer/keys/pgp-public', async (t) => {
  const home = join(dir, 'apptainer-home')
  mkdirSync(join(home, '.apptainer', 'keys'), { recursive: true })
  copyFileSync(join(alice.dir, 'pgp-public'), join(home, '.apptainer', 'keys', 'pgp-public'))
  const r = await runCli(['verify_singularity', signedByJudge()], { env: { HOME: home } })
  t.equal(r.code, 0, r.stderr)
})

t.test('sign_singularity: Apptainer keyring, .md5 rewritten, idempotent; protected and multiple keys', async (t) => {
  const tag = `1-r${process.pid}`
  const image = `casa-test-sign/small:${tag}`
  execFileSync('docker', ['tag', ensureBusyboxImage(), image])
  t.teardown(() => void spawnSync('docker', ['image', 'rm', image]))
  const repo = join(dir, 'repo')
  const home = join(dir, 'signer-home')
  mkdirSync(join(home, '.apptainer', 'keys'), { recursive: true })
  mkdirSync(repo)
  copyFileSync(join(alice.dir, 'pgp-secret'), join(home, '.apptainer', 'keys', 'pgp-secret'))
  const file = sif(`repo/casa-test-sign_small_${tag}.sif`)
  writeFileSync(`${file}.md5`, 'stale\n')
  const cli = (args: string[], extra: Record<string, string> = {}) => runCli(['-r', repo, 'sign_singularity', 'casa-test-sign/*', ...args], { env: { HOME: home, ...extra } })

  // No key=, no Apptainer keyring: one line saying how to get a key, the file untouched.
  const before = readFileSync(file)
  oneErrorLine(t, await runCli(['-r', repo, 'sign_singularity', 'casa-test-sign/*'], { env }), /no key to sign with: give key=FILE .* or create .*\.apptainer\/keys\/pgp-secret with apptainer key newpair/)
  t.ok(readFileSync(file).equals(before), 'unchanged')
  const verifiedByName = await runCli(['-r', repo, 'verify_singularity', 'image_names=casa-test-sign/small:*', `keyring=${join(alice.dir, 'pgp-public')}`], { env })
  t.equal(verifiedByName.code, 1, 'image_names=: the repository file, unsigned yet')
  t.match(verifiedByName.stderr, /casa-test-sign_small_.*\.sif: no signature/)

  const signed = await cli([])
  t.equal(signed.code, 0, signed.stderr)
  t.match(signed.stderr, `signed by ${alice.fingerprint}`)
  t.equal(readFileSync(`${file}.md5`, 'utf8'), `${createHash('md5').update(readFileSync(file)).digest('hex')}\n`, '.md5 describes the signed file')
  t.equal(judge('verify', file, join(alice.dir, 'pgp-public')).code, 0, 'verified by pkg/integrity')
  const again = await cli([])
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, 'already signed')

  // A passphrase-protected key, armored, two keys in one file.
  const passphrase = 'correct horse'
  const protectedKey = await openpgp.generateKey({ userIDs: [{ name: 'Carol' }], passphrase, format: 'armored' })
  const other = await openpgp.generateKey({ userIDs: [{ name: 'Dave' }], format: 'armored' })
  const carol = (await openpgp.readPrivateKey({ armoredKey: protectedKey.privateKey })).getFingerprint().toUpperCase()
  const both = join(dir, 'two-keys.asc')
  writeFileSync(both, protectedKey.privateKey + other.privateKey)
  oneErrorLine(t, await cli([`key=${both}`]), /holds 2 keys: choose one with key_fingerprint=/)
  oneErrorLine(t, await cli([`key=${both}`, `key_fingerprint=${carol.slice(-16)}`]), /protected by a passphrase: set CASA_SIGN_PASSPHRASE/)
  oneErrorLine(t, await cli([`key=${both}`, `key_fingerprint=${carol}`], { CASA_SIGN_PASSPHRASE: 'wrong' }), /wrong passphrase for the key/)
  const withCarol = await cli([`key=${both}`, `key_fingerprint=${carol}`], { CASA_SIGN_PASSPHRASE: passphrase })
  t.equal(withCarol.code, 0, withCarol.stderr)
  t.notMatch(withCarol.stderr + withCarol.stdout, passphrase, 'the passphrase is never printed')
  const carolKeys = join(dir, 'carol.asc')
  writeFileSync(carolKeys, protectedKey.publicKey)
  const verified = await runCli(['verify_singularity', file, `keyring=${carolKeys}`], { env })
  // Alice's signature is by a key not in Carol's keyring: every signature must verify.
  oneErrorLine(t, verified, new RegExp(`signed by a key not in the keyring: ${alice.fingerprint}`))
  const aliceAndCarol = join(dir, 'alice-carol.asc')
  writeFileSync(aliceAndCarol, Buffer.concat([readFileSync(join(alice.dir, 'public.asc')), Buffer.from(protectedKey.publicKey)]))
  const two = await runCli(['verify_singularity', file, `keyring=${aliceAndCarol}`], { env })
  t.equal(two.code, 0, two.stderr)
  t.match(two.stdout, `signed by ${alice.fingerprint}, ${carol}`)
  // The judge reads one armored block per file (Go's ReadArmoredKeyRing): give it a binary keyring.
  const binaryKeyring = join(dir, 'alice-carol.pgp')
  writeFileSync(binaryKeyring, Buffer.concat([readFileSync(join(alice.dir, 'pgp-public')), (await openpgp.readKey({ armoredKey: protectedKey.publicKey })).write()]))
  const judged = judge('verify', file, binaryKeyring)
  t.equal(judged.code, 0, `both signatures verified by pkg/integrity: ${judged.output}`)
})

t.test('create_singularity sign=1: the converted file is signed, its .md5 describes the signed file', async (t) => {
  const tag = `2-r${process.pid}`
  const image = `casa-test-sign/created:${tag}`
  execFileSync('docker', ['tag', ensureBusyboxImage(), image])
  t.teardown(() => void spawnSync('docker', ['image', 'rm', image]))
  const repo = join(dir, 'created')
  mkdirSync(repo)
  const created = await runCli(['-r', repo, 'create_singularity', image, 'sign=1', `key=${join(alice.dir, 'secret.asc')}`], { env })
  t.equal(created.code, 0, created.stderr)
  const file = join(repo, `casa-test-sign_created_${tag}.sif`)
  t.equal(readFileSync(`${file}.md5`, 'utf8'), `${createHash('md5').update(readFileSync(file)).digest('hex')}\n`, '.md5 of the signed file')
  const judged = judge('verify', file, join(alice.dir, 'pgp-public'))
  t.equal(judged.code, 0, `verified by pkg/integrity (the partition digest from the read-back pass is right): ${judged.output}`)
  const ours = await verify(file, join(alice.dir, 'pgp-public'))
  t.equal(ours.code, 0, ours.stderr)
  // a key that cannot be used is said before any conversion
  const bad = await runCli(['-r', repo, 'create_singularity', image, 'force=1', 'sign=1', `key=${join(dir, 'nope.asc')}`], { env })
  t.equal(bad.code, 1)
  t.match(bad.stderr, /cannot read the secret key file .*nope\.asc: no such file/)
  t.notMatch(bad.stderr, /->/, 'no conversion started')

  // The signature is made on a stand-in in TMPDIR before the file is assembled, in place (the
  // head inserted in front, above) or, where the file system cannot insert a range (tmpfs),
  // by copying the squashfs behind the head: both signed the same way, nothing left behind.
  const shm = mkdtempSync(join('/dev/shm', 'casa-sign-'))
  t.teardown(() => rmSync(shm, { recursive: true, force: true }))
  const tmp = join(dir, 'tmp-sign')
  mkdirSync(tmp)
  const copied = await runCli(['-v', '-r', shm, 'create_singularity', image, 'sign=1', `key=${join(alice.dir, 'secret.asc')}`], { env: { ...env, TMPDIR: tmp } })
  t.equal(copied.code, 0, copied.stderr)
  const copy = join(shm, `casa-test-sign_created_${tag}.sif`)
  t.equal(readFileSync(`${copy}.md5`, 'utf8'), `${createHash('md5').update(readFileSync(copy)).digest('hex')}\n`, 'copy mode: .md5 of the signed file')
  const judgedCopy = judge('verify', copy, join(alice.dir, 'pgp-public'))
  t.equal(judgedCopy.code, 0, `copy mode: verified by pkg/integrity: ${judgedCopy.output}`)
  t.same(readdirSync(tmp), [], 'no squashfs nor stand-in left in TMPDIR')
})

t.test('singularity.requireSignature: publish_singularity refuses an unsigned image before uploading anything', async (t) => {
  const tag = `3-r${process.pid}`
  const image = `casa-test-sign/published:${tag}`
  execFileSync('docker', ['tag', ensureBusyboxImage(), image])
  t.teardown(() => void spawnSync('docker', ['image', 'rm', image]))
  const repo = join(dir, 'published')
  const hub = join(dir, 'hub')
  mkdirSync(repo)
  mkdirSync(hub)
  const config = join(repo, 'casa.config.ts')
  writeFileSync(config, `export default { hubs: { singularity: { upload: 'file://${hub}', download: 'file://${hub}' } }, singularity: { requireSignature: true, keyring: ${JSON.stringify(join(alice.dir, 'pgp-public'))} } }\n`)
  const file = sif(`published/casa-test-sign_published_${tag}.sif`)
  writeFileSync(`${file}.md5`, `${createHash('md5').update(readFileSync(file)).digest('hex')}\n`)
  writeFileSync(`${file}.dockerid`, 'sha256:0\n')
  const publish = () => runCli(['-r', repo, 'publish_singularity', image], { env: { ...env, CASA_CONFIG: config } })

  const refused = await publish()
  t.equal(refused.code, 1)
  t.match(refused.stderr, /does not verify \(no signature\), and singularity\.requireSignature is set: sign it with sign_singularity/)
  t.same(readdirSync(hub), [], 'nothing uploaded')
  const [bobKey] = await readSecretKeys(join(bob.dir, 'secret.asc'))
  await signSif(file, bobKey!, { writeMd5: async (path, md5) => writeFileSync(`${path}.md5`, `${md5}\n`) })
  const foreign = await publish()
  t.equal(foreign.code, 1)
  t.match(foreign.stderr, new RegExp(`not in the keyring: ${bob.fingerprint}`))
  t.same(readdirSync(hub), [], 'nothing uploaded')

  const [aliceKey] = await readSecretKeys(join(alice.dir, 'secret.asc'))
  const signed = sif(`published/casa-test-sign_published_${tag}.sif`)
  await signSif(signed, aliceKey!, { writeMd5: async (path, md5) => writeFileSync(`${path}.md5`, `${md5}\n`) })
  const published = await publish()
  t.equal(published.code, 0, published.stderr)
  t.equal(createHash('md5').update(readFileSync(join(hub, basename(file)))).digest('hex'), readFileSync(`${file}.md5`, 'utf8').trim(), 'the hub holds the signed file')
  t.equal(judge('verify', join(hub, basename(file)), join(alice.dir, 'pgp-public')).code, 0)
})

t.test('a file without a free descriptor slot: the table grows in place, or the file is rewritten', async (t) => {
  const [key] = await readSecretKeys(join(alice.dir, 'secret.asc'))
  // The same file claiming a table of exactly its 3 objects, room left before the first object.
  const roomy = sif()
  const bytes = readFileSync(roomy)
  bytes.writeBigInt64LE(0n, 80)
  bytes.writeBigInt64LE(3n, 88)
  bytes.writeBigInt64LE(BigInt(3 * 585), 104)
  writeFileSync(roomy, bytes)
  t.equal(judge('sign', roomy, join(bob.dir, 'pgp-secret')).code, 1, 'pkg/integrity cannot sign it either')
  await signSif(roomy, key!)
  const signature = (await readSif(roomy)).descriptors.find((d) => d.type === dataTypes.signature)!
  t.equal(readFileSync(roomy).length, bytes.length + signature.size, 'only the signature added to the file')
  t.equal((await readSif(roomy)).descriptors[0]!.offset, 32768, 'grown in place: no object moved')
  t.equal(judge('verify', roomy, join(alice.dir, 'pgp-public')).code, 0, 'verified by pkg/integrity')
  t.equal((await verify(roomy, join(alice.dir, 'pgp-public'))).code, 0)

  // The table moved right against the first object: no room, the file is rewritten.
  const tight = sif()
  const original = readFileSync(tight)
  const moved = Buffer.from(original)
  const tableAt = 32768 - 3 * 585
  moved.fill(0, 4096, 32768)
  original.copy(moved, tableAt, 4096, 4096 + 3 * 585)
  moved.writeBigInt64LE(0n, 80)
  moved.writeBigInt64LE(3n, 88)
  moved.writeBigInt64LE(BigInt(tableAt), 96)
  moved.writeBigInt64LE(BigInt(3 * 585), 104)
  moved.writeBigInt64LE(32768n, 112)
  moved.writeBigInt64LE(BigInt(moved.length - 32768), 120)
  writeFileSync(tight, moved)
  t.equal((await verify(tight, join(alice.dir, 'pgp-public'))).stderr.includes('no signature'), true, 'a valid SIF, unsigned')
  await signSif(tight, key!)
  const rewritten = await readSif(tight)
  t.equal(rewritten.descriptors[0]!.offset, 32768 + 12288, 'objects moved down by 16 slots (9360 bytes) rounded up to 4096')
  t.equal(judge('verify', tight, join(alice.dir, 'pgp-public')).code, 0, 'verified by pkg/integrity')
  t.equal((await verify(tight, join(alice.dir, 'pgp-public'))).code, 0)
  t.same(readdirSync(dir).filter((n) => n.includes('.tmp-')), [], 'no temporary file left')
})
