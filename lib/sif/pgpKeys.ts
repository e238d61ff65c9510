// OpenPGP keys for SIF signatures, read with OpenPGP.js: armored files (gpg --export --armor,
// gpg --export-secret-keys --armor) or Apptainer's own keyrings (~/.apptainer/keys/pgp-secret
// and pgp-public, binary packet sequences). A protected secret key is unlocked with the
// passphrase in $CASA_SIGN_PASSPHRASE or typed on the terminal, never from argv or the config.
import { readFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type * as openpgp from 'openpgp'
import { UserError } from '../util/errors.js'

/**
 * OpenPGP.js, loaded on the first use: tasks that never sign nor verify (create_singularity
 * without sign=1 imports this through the singularity entry) do not pay its load at start-up.
 */
let loaded: Promise<typeof openpgp> | undefined
export const loadOpenpgp = () => (loaded ??= import('openpgp'))

export const PASSPHRASE_VARIABLE = 'CASA_SIGN_PASSPHRASE'

/** Apptainer's keyrings (`apptainer key newpair` writes them). */
export const apptainerSecretKeyring = () => join(homedir(), '.apptainer', 'keys', 'pgp-secret')
export const apptainerPublicKeyring = () => join(homedir(), '.apptainer', 'keys', 'pgp-public')

export const fingerprintOf = (key: openpgp.Key) => key.getFingerprint().toUpperCase()

async function keyFileBytes(path: string, what: string): Promise<Buffer> {
  return readFile(path).catch((error: NodeJS.ErrnoException) => {
    throw new UserError(`cannot read the ${what} ${path}: ${error.code === 'ENOENT' ? 'no such file' : error.code === 'EISDIR' ? 'it is a directory' : error.message}`)
  })
}

const isArmored = (data: Buffer) => data.subarray(0, 100).toString('latin1').trimStart().startsWith('-----BEGIN PGP')

/** Each armored block of a file: OpenPGP.js reads one per call, and key files often hold several (cat a.asc b.asc). */
const armoredBlocks = (data: Buffer) => data.toString('utf8').match(/-----BEGIN PGP [A-Z ]+-----[\s\S]*?-----END PGP [A-Z ]+-----/g) ?? []

/** Every secret key of a file (armored or binary). */
export async function readSecretKeys(path: string): Promise<openpgp.PrivateKey[]> {
  const pgp = await loadOpenpgp()
  const data = await keyFileBytes(path, 'secret key file')
  try {
    return isArmored(data) ? (await Promise.all(armoredBlocks(data).map((armoredKeys) => pgp.readPrivateKeys({ armoredKeys })))).flat() : await pgp.readPrivateKeys({ binaryKeys: data })
  } catch (error) {
    throw new UserError(`${path} holds no OpenPGP secret key (${(error as Error).message.split('\n')[0]})`)
  }
}

/** Every key of a keyring file (armored or binary; secret keys count by their public part). */
export async function readPublicKeys(path: string): Promise<openpgp.PublicKey[]> {
  const pgp = await loadOpenpgp()
  const data = await keyFileBytes(path, 'keyring')
  try {
    const keys = isArmored(data) ? (await Promise.all(armoredBlocks(data).map((armoredKeys) => pgp.readKeys({ armoredKeys })))).flat() : await pgp.readKeys({ binaryKeys: data })
    return keys.map((k) => k.toPublic())
  } catch (error) {
    throw new UserError(`${path} holds no OpenPGP public key (${(error as Error).message.split('\n')[0]})`)
  }
}

/** The key to sign with: the only one, or the one whose fingerprint (or its tail, a key id) is given. */
export function chooseKey<K extends openpgp.Key>(keys: readonly K[], path: string, fingerprint?: string): K {
  if (fingerprint) {
    const wanted = fingerprint.replace(/\s+/g, '').replace(/^0x/i, '').toUpperCase()
    const found = keys.filter((k) => fingerprintOf(k).endsWith(wanted))
    if (found.length === 1) return found[0]!
    if (found.length > 1) throw new UserError(`key_fingerprint=${fingerprint} matches ${found.length} keys of ${path}: give the whole fingerprint`)
    throw new UserError(`no key of ${path} has the fingerprint ${wanted} (it holds ${keys.map(fingerprintOf).join(', ')})`)
  }
  if (keys.length === 1) return keys[0]!
  throw new UserError(`${path} holds ${keys.length} keys: choose one with key_fingerprint= (${keys.map(fingerprintOf).join(', ')})`)
}

/** A secret key ready to sign: decrypted with the passphrase from the environment or the terminal. */
export async function unlockKey(key: openpgp.PrivateKey, env: NodeJS.ProcessEnv = process.env): Promise<openpgp.PrivateKey> {
  if (key.isDecrypted()) return key
  const fingerprint = fingerprintOf(key)
  let passphrase = env[PASSPHRASE_VARIABLE]
  if (passphrase === undefined) {
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw new UserError(`the key ${fingerprint} is protected by a passphrase: set ${PASSPHRASE_VARIABLE} or run on a terminal to type it`)
    }
    passphrase = await promptHidden(`passphrase for the key ${fingerprint}: `)
  }
  try {
    return await (await loadOpenpgp()).decryptKey({ privateKey: key, passphrase })
  } catch {
    throw new UserError(`wrong passphrase for the key ${fingerprint}${env[PASSPHRASE_VARIABLE] === undefined ? '' : ` (from ${PASSPHRASE_VARIABLE})`}`)
  }
}

/** Read one line from the terminal without echoing it. */
function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin
    process.stderr.write(question)
    stdin.setRawMode(true)
    stdin.resume()
    let typed = ''
    const done = (error?: Error) => {
      stdin.setRawMode(false)
      stdin.pause()
      stdin.off('data', onData)
      process.stderr.write('\n')
      if (error) reject(error)
      else resolve(typed)
    }
    const onData = (chunk: Buffer) => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return done()
        if (char === '\u0003') return done(new UserError('interrupted while reading the passphrase', 130))
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1)
        else typed += char
      }
    }
    stdin.on('data', onData)
  })
}
