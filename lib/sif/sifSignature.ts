// Adding and checking SIF signatures (what `apptainer sign` and `apptainer verify` do), in the
// SIF library's pkg/integrity format (lib/sif/sifIntegrity.ts) with OpenPGP.js.
//
// Signing appends a Signature object after the last one and takes a free descriptor slot (our
// writer leaves 45): the data is written past the recorded end of the file first, then the
// header and descriptor table go in one write, so an interrupted or failed signing leaves the
// file as it was (the appended bytes are cut off again).
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open, stat, truncate } from 'node:fs/promises'
import type * as openpgp from 'openpgp'
import { UserError, errorMessage } from '../util/errors.js'
import { onInterrupt } from '../util/interrupt.js'
import { DESCRIPTOR_SIZE, GROUP_MASK, HEADER_SIZE, SIF_MAGIC, dataTypes } from './sifWriter.js'
import { primaryPartition, readSif, sifTruncation, typeNames, type SifDescriptor, type SifFile } from './sifReader.js'
import { ObjectDigests, groupMetadata, linkedGroup, metadataMismatch, readRaw, signatureExtra, signatureHashTypes } from './sifIntegrity.js'
import { fingerprintOf, loadOpenpgp } from './pgpKeys.js'
import { makeDescriptorRoom } from './sifDescriptorRoom.js'

const describe = (d: SifDescriptor) => `object ${d.id} (${typeNames[d.type] ?? `type 0x${d.type.toString(16)}`}${d.name ? ` ${d.name}` : ''})`

/** The object groups of a file (each gets a signature). */
const groupsOf = (sif: SifFile) => [...new Set(sif.descriptors.filter((d) => d.type !== dataTypes.signature && d.group !== 0).map((d) => d.group))].sort((a, b) => a - b)

export interface SignResult {
  path: string
  fingerprint: string
  /** False when the file already carried a signature by this key (nothing written). */
  signed: boolean
  md5?: string
}

/**
 * Sign every object group of a SIF file with `key` (decrypted). Seeded digests (from a
 * conversion's read-back pass) save reading the objects again. The .md5 beside the file, when
 * there is one, is rewritten (under a temporary name) to describe the signed file.
 */
export async function signSif(path: string, key: openpgp.PrivateKey, options: { digests?: (digests: ObjectDigests, sif: SifFile) => void; writeMd5?: (path: string, md5: string) => Promise<void>; now?: Date; durable?: boolean } = {}): Promise<SignResult> {
  const damage = await sifTruncation(path).catch(() => undefined)
  if (damage) throw new UserError(`cannot sign ${path}: ${damage}`)
  const sif = await readSif(path)
  const raw = await readRaw(sif)
  const fingerprint = fingerprintOf(key)
  const already = sif.descriptors.some((d) => d.type === dataTypes.signature && signatureExtra(raw.descriptors.get(d.id)!).fingerprint === fingerprint)
  if (already) return { path, fingerprint, signed: false }
  const groups = groupsOf(sif)
  if (groups.length === 0) throw new UserError(`cannot sign ${path}: it has no object group to sign`)
  const free: number[] = []
  for (let i = 0; i < sif.header.descriptorsTotal && free.length < groups.length; i++) if (raw.head.readUInt8(sif.header.descriptorsOffset + i * DESCRIPTOR_SIZE + 4) === 0) free.push(i)
  if (free.length < groups.length) {
    // A table with no free slot (not one of ours): grown, then signed as any other file.
    await makeDescriptorRoom(sif, raw, groups.length - free.length)
    return signSif(path, key, options)
  }

  const digests = new ObjectDigests(sif)
  options.digests?.(digests, sif)
  const now = options.now ?? new Date()
  const time = BigInt(Math.floor(now.getTime() / 1000))
  const head = Buffer.from(raw.head)
  const appended: Buffer[] = []
  let end = sif.header.dataOffset + sif.header.dataSize
  const originalSize = end
  for (const [index, group] of groups.entries()) {
    const document = await groupMetadata(sif, raw, group, digests)
    const pgp = await loadOpenpgp()
    const message = await pgp.createCleartextMessage({ text: document })
    const armored = await pgp.sign({ message, signingKeys: key, date: now, config: { preferredHashAlgorithm: pgp.enums.hash.sha256 } })
    const data = Buffer.from(armored, 'utf8')
    const slot = free[index]!
    const at = sif.header.descriptorsOffset + slot * DESCRIPTOR_SIZE
    head.fill(0, at, at + DESCRIPTOR_SIZE)
    head.writeInt32LE(dataTypes.signature, at)
    head.writeUInt8(1, at + 4)
    head.writeUInt32LE(slot + 1, at + 5)
    head.writeUInt32LE(GROUP_MASK >>> 0, at + 9) // in no group
    head.writeUInt32LE((group | GROUP_MASK) >>> 0, at + 13) // linked to the group
    head.writeBigInt64LE(BigInt(end), at + 17)
    head.writeBigInt64LE(BigInt(data.length), at + 25)
    head.writeBigInt64LE(BigInt(data.length), at + 33)
    head.writeBigInt64LE(time, at + 41)
    head.writeBigInt64LE(time, at + 49)
    head.writeInt32LE(1, at + 201) // SHA-256
    Buffer.from(fingerprint, 'hex').copy(head, at + 205)
    appended.push(data)
    end += data.length
  }
  head.writeBigInt64LE(time, 72) // modified
  head.writeBigInt64LE(BigInt(sif.header.descriptorsFree - groups.length), 80)
  head.writeBigInt64LE(BigInt(end - sif.header.dataOffset), 120)

  // Anything past the recorded end (a copy's garbage) is cut off first: the file ends at `end`.
  // Until the header and table are written the appended bytes are not part of the file: cut off again on failure or Ctrl-C.
  let headWritten = false
  const restore = async () => {
    if (!headWritten) await truncate(path, originalSize)
  }
  const unregister = onInterrupt(restore)
  const handle = await open(path, 'r+')
  try {
    const tail = Buffer.concat(appended)
    await handle.truncate(originalSize)
    await handle.write(tail, 0, tail.length, originalSize)
    // The signature on the disk before the head that names it; a temporary file needs neither.
    if (options.durable !== false) await handle.datasync()
    await handle.write(head, 0, head.length, 0)
    headWritten = true
    if (options.durable !== false) await handle.datasync()
  } catch (error) {
    await handle.close()
    await restore().catch(() => undefined)
    unregister()
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw new UserError(`no space left on device to sign ${path}`)
    throw error
  }
  await handle.close()
  unregister()
  let md5: string | undefined
  if (options.writeMd5) {
    md5 = await fileMd5(path)
    await options.writeMd5(path, md5)
  }
  return { path, fingerprint, signed: true, md5 }
}

export async function fileMd5(path: string): Promise<string> {
  const hash = createHash('md5')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

export interface SignatureCheck {
  id: number
  group?: number
  fingerprint?: string
  /** Why this signature does not verify; undefined when it does. */
  problem?: string
}

export interface VerifyReport {
  path: string
  ok: boolean
  /** One line: why the file does not verify, or who signed it. */
  summary: string
  signatures: SignatureCheck[]
  /** Fingerprints of the keyring keys whose signatures verified. */
  signers: string[]
}

/**
 * Check every signature of a SIF file against a keyring. The file verifies when every signature
 * does and at least one, by a key of the keyring, covers the group of the system partition.
 */
export async function verifySif(path: string, keyring: readonly openpgp.PublicKey[]): Promise<VerifyReport> {
  const fail = (summary: string, signatures: SignatureCheck[] = []): VerifyReport => ({ path, ok: false, summary, signatures, signers: [] })
  const kind = await stat(path).catch(() => undefined)
  if (!kind) return fail('no such file')
  if (!kind.isFile()) return fail(kind.isDirectory() ? 'it is a directory' : 'not a regular file')
  // Its magic first: a short HTML error page saved under the name is no SIF, not a truncated one.
  const start = Buffer.alloc(HEADER_SIZE)
  const handle = await open(path, 'r')
  await handle.read(start, 0, HEADER_SIZE, 0).finally(() => handle.close())
  if (start.subarray(32, 32 + SIF_MAGIC.length).toString('latin1') !== SIF_MAGIC) return fail('not a SIF file (no SIF header)')
  const damage = await sifTruncation(path)
  if (damage) return fail(damage)
  let sif: SifFile
  try {
    sif = await readSif(path)
  } catch (error) {
    return fail(errorMessage(error).replace(`${path}: `, '').replace(`${path} `, ''))
  }
  const raw = await readRaw(sif)
  const signatureObjects = sif.descriptors.filter((d) => d.type === dataTypes.signature)
  if (signatureObjects.length === 0) return fail('no signature')
  const digests = new ObjectDigests(sif)
  const checks: SignatureCheck[] = []
  for (const descriptor of signatureObjects) checks.push(await checkSignature(sif, raw, descriptor, keyring, digests))
  const bad = checks.find((c) => c.problem)
  if (bad) return fail(`signature object ${bad.id}: ${bad.problem}`, checks)
  const system = primaryPartition(sif)
  const covering = checks.filter((c) => c.group === system.group)
  if (covering.length === 0) return fail(`no signature covers the system partition (${describe(system)})`, checks)
  const signers = [...new Set(checks.map((c) => c.fingerprint!))]
  return { path, ok: true, summary: `signed by ${signers.join(', ')}`, signatures: checks, signers }
}

async function checkSignature(sif: SifFile, raw: Awaited<ReturnType<typeof readRaw>>, descriptor: SifDescriptor, keyring: readonly openpgp.PublicKey[], digests: ObjectDigests): Promise<SignatureCheck> {
  const rawDescriptor = raw.descriptors.get(descriptor.id)!
  const { hashType, fingerprint } = signatureExtra(rawDescriptor)
  const group = linkedGroup(rawDescriptor)
  const check = (problem?: string): SignatureCheck => ({ id: descriptor.id, group, fingerprint, problem })
  if (group === undefined) return check(`a legacy per-object signature (of object ${rawDescriptor.readUInt32LE(13)}), not supported: sign the file again`)
  if (!signatureHashTypes[hashType]) return check(`unknown hash type ${hashType}`)
  const handle = await open(sif.path, 'r')
  const data = Buffer.alloc(descriptor.size)
  await handle.read(data, 0, descriptor.size, descriptor.offset).finally(() => handle.close())
  let message: openpgp.CleartextMessage
  try {
    message = await (await loadOpenpgp()).readCleartextMessage({ cleartextMessage: data.toString('utf8') })
  } catch {
    return check('not a clear-signed PGP message')
  }
  const text = message.getText()
  if (text.startsWith('SIFHASH:')) return check('a legacy (SIFHASH) signature, not supported: sign the file again')
  const keyIds = message.getSigningKeyIDs()
  const key = keyring.find((k) => keyIds.some((id) => k.getKeys(id).length > 0))
  if (!key) return check(`signed by a key not in the keyring: ${fingerprint ?? keyIds.map((id) => id.toHex().toUpperCase()).join(', ')}`)
  const keyFingerprint = fingerprintOf(key)
  try {
    const result = await (await loadOpenpgp()).verify({ message, verificationKeys: key, expectSigned: true })
    await result.signatures[0]!.verified
  } catch (error) {
    return { ...check(`bad PGP signature by ${keyFingerprint} (${errorMessage(error).split('\n')[0]})`), fingerprint: keyFingerprint }
  }
  if (fingerprint !== keyFingerprint) return { ...check(`its descriptor names the signer ${fingerprint ?? 'nobody'}, but ${keyFingerprint} signed it`), fingerprint: keyFingerprint }
  const mismatch = await metadataMismatch(sif, raw, group, text, digests, describe)
  return { ...check(mismatch), fingerprint: keyFingerprint }
}
