// Our SIF reader: the global header and the used descriptors of a SIF file, the data of
// small objects and a stream of the partition. Used to check every file we write, by
// inspect_singularity, and by publishing.
import { createReadStream, type ReadStream } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import { UserError } from '../util/errors.js'
import { DESCRIPTOR_SIZE, GROUP_MASK, HEADER_SIZE, SIF_MAGIC, dataTypes } from './sifWriter.js'

export interface SifHeader {
  launchScript: string
  version: string
  arch: string
  id: string
  createdAt: number
  modifiedAt: number
  descriptorsFree: number
  descriptorsTotal: number
  descriptorsOffset: number
  descriptorsSize: number
  dataOffset: number
  dataSize: number
}

export interface SifDescriptor {
  type: number
  id: number
  /** Group number (0 for none), without the stored 0xf0000000 mark. */
  group: number
  linkedId: number
  offset: number
  size: number
  sizeWithPadding: number
  createdAt: number
  modifiedAt: number
  name: string
  /** For a partition: fs type, partition type and arch from the extra field. */
  partition?: { fsType: number; partitionType: number; arch: string }
}

export interface SifFile {
  path: string
  fileSize: number
  header: SifHeader
  descriptors: SifDescriptor[]
}

export const typeNames: Record<number, string> = {
  [dataTypes.deffile]: 'Def.FILE',
  [dataTypes.environment]: 'Env.Vars',
  [dataTypes.labels]: 'JSON.Labels',
  [dataTypes.partition]: 'FS',
  [dataTypes.signature]: 'Signature',
  [dataTypes.genericJson]: 'JSON.Generic',
  [dataTypes.genericRaw]: 'Generic/Raw',
}

const cstring = (buffer: Buffer, offset: number, length: number) => {
  const field = buffer.subarray(offset, offset + length)
  const end = field.indexOf(0)
  return field.subarray(0, end === -1 ? length : end).toString('utf8')
}
const int64 = (buffer: Buffer, offset: number) => Number(buffer.readBigInt64LE(offset))

/** Read and check a SIF file's header and descriptor table. */
export async function readSif(path: string): Promise<SifFile> {
  // Check the kind of file before opening it: opening a FIFO blocks a worker thread until a
  // writer comes, and then even process.exit (Ctrl-C) waits for it; a directory gives EISDIR.
  const kind = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new UserError(`cannot read ${path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`)
  })
  if (!kind.isFile()) throw new UserError(`cannot read ${path}: ${kind.isDirectory() ? 'it is a directory' : 'not a regular file'}`)
  const handle = await open(path, 'r').catch((error: NodeJS.ErrnoException) => {
    throw new UserError(`cannot read ${path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`)
  })
  try {
    const { size: fileSize } = await handle.stat()
    const header = Buffer.alloc(HEADER_SIZE)
    await handle.read(header, 0, HEADER_SIZE, 0)
    if (cstring(header, 32, 10) !== SIF_MAGIC) throw new UserError(`${path} is not a SIF file (no SIF_MAGIC)`)
    const parsed: SifHeader = {
      launchScript: cstring(header, 0, 32),
      version: cstring(header, 42, 3),
      arch: cstring(header, 45, 3),
      id: header.subarray(48, 64).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5'),
      createdAt: int64(header, 64),
      modifiedAt: int64(header, 72),
      descriptorsFree: int64(header, 80),
      descriptorsTotal: int64(header, 88),
      descriptorsOffset: int64(header, 96),
      descriptorsSize: int64(header, 104),
      dataOffset: int64(header, 112),
      dataSize: int64(header, 120),
    }
    if (parsed.descriptorsSize !== parsed.descriptorsTotal * DESCRIPTOR_SIZE || parsed.descriptorsOffset + parsed.descriptorsSize > fileSize) {
      throw new UserError(`${path}: the SIF descriptor table is damaged`)
    }
    const table = Buffer.alloc(parsed.descriptorsSize)
    await handle.read(table, 0, table.length, parsed.descriptorsOffset)
    const descriptors: SifDescriptor[] = []
    for (let i = 0; i < parsed.descriptorsTotal; i++) {
      const at = i * DESCRIPTOR_SIZE
      if (table.readUInt8(at + 4) === 0) continue
      const type = table.readInt32LE(at)
      const group = table.readUInt32LE(at + 9)
      const descriptor: SifDescriptor = {
        type,
        id: table.readUInt32LE(at + 5),
        group: group === 0 ? 0 : (group & ~GROUP_MASK) >>> 0,
        linkedId: table.readUInt32LE(at + 13),
        offset: int64(table, at + 17),
        size: int64(table, at + 25),
        sizeWithPadding: int64(table, at + 33),
        createdAt: int64(table, at + 41),
        modifiedAt: int64(table, at + 49),
        name: cstring(table, at + 73, 128),
      }
      if (type === dataTypes.partition) {
        descriptor.partition = { fsType: table.readInt32LE(at + 201), partitionType: table.readInt32LE(at + 205), arch: cstring(table, at + 209, 3) }
      }
      if (descriptor.offset + descriptor.size > fileSize) throw new UserError(`${path}: object ${descriptor.id} goes past the end of the file (truncated image?)`)
      descriptors.push(descriptor)
    }
    return { path, fileSize, header: parsed, descriptors }
  } finally {
    await handle.close()
  }
}

/**
 * Why a SIF file we wrote is not whole (or no SIF at all), or undefined when it is: its header records where its
 * data ends (dataOffset + dataSize is the file's size, lib/sif/sifWriter.ts), so a copy cut short
 * or a disk that filled up shows without reading the file. The .md5 and .dockerid beside it
 * would otherwise keep saying "up to date" about a file that is not there any more.
 */
export async function sifTruncation(path: string): Promise<string | undefined> {
  const handle = await open(path, 'r')
  try {
    const { size } = await handle.stat()
    const header = Buffer.alloc(HEADER_SIZE)
    const { bytesRead } = await handle.read(header, 0, HEADER_SIZE, 0)
    if (bytesRead < HEADER_SIZE) return `truncated (${size} bytes, shorter than a SIF header)`
    // Without it the numbers below are anything: zeros record a data end of 0, and another
    // file (an HTML error page saved under that name) some huge size.
    if (cstring(header, 32, 10) !== SIF_MAGIC) return 'not a SIF file (no SIF header)'
    const recorded = int64(header, 112) + int64(header, 120)
    return size < recorded ? `truncated (${size} bytes, its SIF header says ${recorded})` : undefined
  } finally {
    await handle.close()
  }
}

/** The primary system partition (the one a runtime mounts). */
export function primaryPartition(sif: SifFile): SifDescriptor {
  const found = sif.descriptors.find((d) => d.partition?.partitionType === 2)
  if (!found) throw new UserError(`${sif.path} has no primary system partition`)
  return found
}

/** The bytes of a small object (definition file, labels). */
export async function readObject(sif: SifFile, descriptor: SifDescriptor): Promise<Buffer> {
  const handle = await open(sif.path, 'r')
  try {
    const data = Buffer.alloc(descriptor.size)
    await handle.read(data, 0, descriptor.size, descriptor.offset)
    return data
  } finally {
    await handle.close()
  }
}

/** A stream of an object's bytes (the partition, for extraction). */
export function objectStream(sif: SifFile, descriptor: SifDescriptor): ReadStream {
  return createReadStream(sif.path, { start: descriptor.offset, end: descriptor.offset + descriptor.size - 1, highWaterMark: 1 << 20 })
}
