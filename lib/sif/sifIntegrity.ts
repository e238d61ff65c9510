// What a SIF signature covers, in the SIF library's pkg/integrity format (the one `apptainer
// sign` writes and `apptainer verify` checks): a JSON document holding a digest of the header's
// fixed fields, and for each object of the signed group a digest of its descriptor's
// integrity-protected fields and a digest of its data. The document is clear-signed and stored
// in a Signature object linked to the group (lib/sif/sifSignature.ts).
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import { DESCRIPTOR_SIZE, GROUP_MASK, HEADER_SIZE } from './sifWriter.js'
import type { SifDescriptor, SifFile } from './sifReader.js'

/** Digest names in the JSON document, and their names in node:crypto. */
const algorithms: Record<string, string> = {
  sha224: 'sha224',
  sha256: 'sha256',
  sha384: 'sha384',
  sha512: 'sha512',
  sha512_224: 'sha512-224',
  sha512_256: 'sha512-256',
}

/** The hash types a Signature descriptor records (its extra field), as digest names. */
export const signatureHashTypes: Record<number, string> = { 1: 'sha256', 2: 'sha384', 3: 'sha512' }

/** The raw bytes of the header and of every used descriptor, by object id. */
export interface SifRaw {
  header: Buffer
  /** The header and the whole descriptor table, as stored (what a signature rewrites). */
  head: Buffer
  descriptors: Map<number, Buffer>
}

export async function readRaw(sif: SifFile): Promise<SifRaw> {
  const end = sif.header.descriptorsOffset + sif.header.descriptorsSize
  const head = Buffer.alloc(end)
  const handle = await open(sif.path, 'r')
  try {
    await handle.read(head, 0, end, 0)
  } finally {
    await handle.close()
  }
  const descriptors = new Map<number, Buffer>()
  for (let i = 0; i < sif.header.descriptorsTotal; i++) {
    const raw = head.subarray(sif.header.descriptorsOffset + i * DESCRIPTOR_SIZE, sif.header.descriptorsOffset + (i + 1) * DESCRIPTOR_SIZE)
    if (raw.readUInt8(4) !== 0) descriptors.set(raw.readUInt32LE(5), raw)
  }
  return { header: head.subarray(0, HEADER_SIZE), head, descriptors }
}

/** Launch script, magic, version and image id: the header fields a signature covers. */
export function headerIntegrityBytes(header: Buffer): Buffer {
  return Buffer.concat([header.subarray(0, 32), header.subarray(32, 42), header.subarray(42, 45), header.subarray(48, 64)])
}

/**
 * A descriptor's covered fields: type, used, id relative to the group's smallest, link, size,
 * creation time, uid, gid, name, extra. Offsets and modification times are left out, so a file
 * can be rewritten (objects moved, a signature added) without breaking earlier signatures.
 */
export function descriptorIntegrityBytes(raw: Buffer, relativeId: number): Buffer {
  const fields = Buffer.alloc(4 + 1 + 4 + 4 + 8 + 8 + 8 + 8)
  raw.copy(fields, 0, 0, 5) // type, used
  fields.writeUInt32LE(relativeId, 5)
  raw.copy(fields, 9, 13, 17) // linked id
  raw.copy(fields, 13, 25, 33) // size
  raw.copy(fields, 21, 41, 49) // created
  raw.copy(fields, 29, 57, 73) // uid, gid
  return Buffer.concat([fields, raw.subarray(73, 201), raw.subarray(201, 585)])
}

/** The objects of a group, by id (the order pkg/integrity lists them in). */
export function groupObjects(sif: SifFile, group: number): SifDescriptor[] {
  return sif.descriptors.filter((d) => d.group === group).sort((a, b) => a.id - b.id)
}

/** Every object digest computed once per file and algorithm, whatever the number of signatures. */
export class ObjectDigests {
  private readonly known = new Map<string, Promise<Buffer>>()
  constructor(private readonly sif: SifFile) {}

  /** Seed a digest computed elsewhere (the read-back pass of a conversion). */
  set(algorithm: string, id: number, value: Buffer): void {
    this.known.set(`${algorithm}:${id}`, Promise.resolve(value))
  }

  get(algorithm: string, descriptor: SifDescriptor): Promise<Buffer> {
    const key = `${algorithm}:${descriptor.id}`
    let value = this.known.get(key)
    if (!value) {
      value = hashRange(this.sif.path, algorithms[algorithm] ?? algorithm, descriptor.offset, descriptor.size)
      this.known.set(key, value)
    }
    return value
  }
}

async function hashRange(path: string, algorithm: string, offset: number, size: number): Promise<Buffer> {
  const hash = createHash(algorithm)
  if (size > 0) for await (const chunk of createReadStream(path, { start: offset, end: offset + size - 1, highWaterMark: 1 << 22 })) hash.update(chunk as Buffer)
  return hash.digest()
}

const digestOf = (algorithm: string, data: Buffer) => createHash(algorithms[algorithm] ?? algorithm).update(data).digest()
const formatDigest = (algorithm: string, value: Buffer) => `${algorithm}:${value.toString('hex')}`

/** The JSON document a signature of `group` signs, byte for byte as pkg/integrity writes it. */
export async function groupMetadata(sif: SifFile, raw: SifRaw, group: number, digests: ObjectDigests, algorithm = 'sha256'): Promise<string> {
  const objects = groupObjects(sif, group)
  const minId = Math.min(...objects.map((d) => d.id))
  const entries = []
  for (const object of objects) {
    const descriptor = descriptorIntegrityBytes(raw.descriptors.get(object.id)!, object.id - minId)
    entries.push({
      relativeId: object.id - minId,
      descriptorDigest: formatDigest(algorithm, digestOf(algorithm, descriptor)),
      objectDigest: formatDigest(algorithm, await digests.get(algorithm, object)),
    })
  }
  return JSON.stringify({ version: 1, header: { digest: formatDigest(algorithm, digestOf(algorithm, headerIntegrityBytes(raw.header))) }, objects: entries })
}

interface SignedDocument {
  version: number
  header: { digest: string }
  objects: { relativeId: number; descriptorDigest: string; objectDigest: string }[]
}

const parseDigest = (text: unknown): { algorithm: string; value: Buffer } | undefined => {
  if (typeof text !== 'string') return undefined
  const [algorithm, hex, extra] = text.split(':')
  if (extra !== undefined || !algorithm || !algorithms[algorithm] || !hex || !/^[0-9a-f]+$/i.test(hex)) return undefined
  return { algorithm, value: Buffer.from(hex, 'hex') }
}

/**
 * What in the file differs from what the signed document says, or undefined when all matches:
 * "the header", "descriptor of object 3 (FS rootfs.squashfs)", "object 3 (...)", or the group's
 * objects not being the ones signed.
 */
export async function metadataMismatch(sif: SifFile, raw: SifRaw, group: number, document: string, digests: ObjectDigests, describe: (d: SifDescriptor) => string): Promise<string | undefined> {
  let parsed: SignedDocument
  try {
    parsed = JSON.parse(document) as SignedDocument
  } catch {
    return 'the signed document is not JSON'
  }
  if (parsed?.version !== 1 || !Array.isArray(parsed.objects)) return `unknown signed document version ${String(parsed?.version)}`
  const header = parseDigest(parsed.header?.digest)
  if (!header) return 'the signed header digest is malformed'
  if (!digestOf(header.algorithm, headerIntegrityBytes(raw.header)).equals(header.value)) return 'digest mismatch: the header'
  const objects = groupObjects(sif, group)
  if (objects.length === 0) return `object group ${group} is gone`
  const minId = Math.min(...objects.map((d) => d.id))
  const signedIds = new Set(parsed.objects.map((o) => minId + o.relativeId))
  for (const object of objects) if (!signedIds.has(object.id)) return `${describe(object)} is in the group but not signed`
  for (const id of signedIds) if (!objects.some((o) => o.id === id)) return `signed object ${id} is not in the file`
  for (const entry of parsed.objects) {
    const object = objects.find((o) => o.id === minId + entry.relativeId)!
    const descriptorDigest = parseDigest(entry.descriptorDigest)
    const objectDigest = parseDigest(entry.objectDigest)
    if (!descriptorDigest || !objectDigest) return `the signed digests of ${describe(object)} are malformed`
    const fields = descriptorIntegrityBytes(raw.descriptors.get(object.id)!, object.id - minId)
    if (!digestOf(descriptorDigest.algorithm, fields).equals(descriptorDigest.value)) return `digest mismatch: the descriptor of ${describe(object)}`
    if (!(await digests.get(objectDigest.algorithm, object)).equals(objectDigest.value)) return `digest mismatch: ${describe(object)}`
  }
  return undefined
}

/** The group a Signature descriptor is linked to, or undefined for a per-object (legacy) link. */
export function linkedGroup(raw: Buffer): number | undefined {
  const linked = raw.readUInt32LE(13)
  return (linked & GROUP_MASK) >>> 0 === GROUP_MASK ? (linked & ~GROUP_MASK) >>> 0 : undefined
}

/** The hash type and signer fingerprint (upper-case hex, undefined if absent) a Signature descriptor records. */
export function signatureExtra(raw: Buffer): { hashType: number; fingerprint?: string } {
  const hashType = raw.readInt32LE(201)
  const fingerprint = raw.subarray(205, 225)
  return { hashType, fingerprint: fingerprint.every((b) => b === 0) ? undefined : fingerprint.toString('hex').toUpperCase() }
}
