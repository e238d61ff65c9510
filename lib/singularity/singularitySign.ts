// sign_singularity, create_singularity sign=1 and verify_singularity: which key, which files,
// and one line per file. The signing and checking themselves are lib/sif/sifSignature.ts.
import { existsSync } from 'node:fs'
import type * as openpgp from 'openpgp'
import { UserError } from '../util/errors.js'
import { ui } from '../util/ui.js'
import { apptainerPublicKeyring, apptainerSecretKeyring, chooseKey, readPublicKeys, readSecretKeys, unlockKey } from '../sif/pgpKeys.js'
import { signSif, verifySif, type SignResult, type VerifyReport } from '../sif/sifSignature.js'
import { writeTextAtomic } from './sifConvert.js'
import { primaryPartition, type SifFile } from '../sif/sifReader.js'
import type { ObjectDigests } from '../sif/sifIntegrity.js'

export interface SigningOptions {
  /** Armored (or binary) secret key file; Apptainer's ~/.apptainer/keys/pgp-secret when absent. */
  key?: string
  keyFingerprint?: string
}

/** The secret key to sign with, chosen and unlocked once for every file. */
export async function signingKey(options: SigningOptions): Promise<openpgp.PrivateKey> {
  const path = options.key ?? apptainerSecretKeyring()
  if (!options.key && !existsSync(path)) throw new UserError(`no key to sign with: give key=FILE (an armored secret key, as gpg --export-secret-keys --armor writes it) or create ${path} with apptainer key newpair`)
  return unlockKey(chooseKey(await readSecretKeys(path), path, options.keyFingerprint))
}

/** Sign one SIF file and rewrite the .md5 beside it (when it has one) for the signed file. */
export async function signFile(file: string, key: openpgp.PrivateKey): Promise<SignResult> {
  const md5Path = `${file}.md5`
  const result = await signSif(file, key, { writeMd5: existsSync(md5Path) ? (_, md5) => writeTextAtomic(md5Path, `${md5}\n`) : undefined })
  if (result.signed) ui.success(`${file}: signed by ${result.fingerprint}`)
  else ui.info(`${file}: already signed by ${result.fingerprint}`)
  return result
}

/**
 * create_singularity sign=1: sign the stand-in of a file being converted (lib/singularity/
 * sifConvert.ts), its partition's digest given by the conversion's own pass over it. Not
 * durable: the stand-in is a temporary file, and the SIF it serves is renamed into place whole.
 */
export async function signStandIn(standIn: string, partitionSha256: Buffer, key: openpgp.PrivateKey): Promise<void> {
  const seed = (digests: ObjectDigests, sif: SifFile) => digests.set('sha256', primaryPartition(sif).id, partitionSha256)
  await signSif(standIn, key, { digests: seed, durable: false })
}

/** The keys signatures are checked against. */
export async function verificationKeys(keyring?: string): Promise<openpgp.PublicKey[]> {
  return readPublicKeys(keyring ?? apptainerPublicKeyring())
}

/** Verify each file: one line each (a result when it verifies, an error saying why not). */
export async function verifyFiles(files: readonly string[], keys: readonly openpgp.PublicKey[]): Promise<VerifyReport[]> {
  const reports: VerifyReport[] = []
  for (const file of files) {
    const report = await verifySif(file, keys)
    if (report.ok) ui.result(`${file}: verified, ${report.summary}`)
    else ui.error(`${file}: ${report.summary}`)
    reports.push(report)
  }
  return reports
}
