// Our SIF writer (layout in docs/sif-format.md): the global header, the descriptor table
// and the small objects (definition file, JSON labels) form the "head" of the file; the
// squashfs primary system partition follows at a 4096-aligned offset and ends the file.
// The head is computed from the partition's size alone, so the partition can be written
// first (straight into the output file) and the head put in front of it afterwards.
// The descriptor table has DESCRIPTORS_TOTAL slots whatever the number of objects: the
// unused ones stay zero and counted free, so objects (a signature) can be added in place.
import { randomUUID } from 'node:crypto'

export const HEADER_SIZE = 128
export const DESCRIPTOR_SIZE = 585
export const DESCRIPTORS_OFFSET = 4096
export const DESCRIPTORS_TOTAL = 48
export const ALIGNMENT = 4096
export const SIF_MAGIC = 'SIF_MAGIC'
export const LAUNCH_SCRIPT = '#!/usr/bin/env run-singularity\n'

export const dataTypes = {
  deffile: 0x4001,
  environment: 0x4002,
  labels: 0x4003,
  partition: 0x4004,
  signature: 0x4005,
  genericJson: 0x4006,
  genericRaw: 0x4007,
  cryptoMessage: 0x4008,
  sbom: 0x4009,
  ociRootIndex: 0x400a,
  ociBlob: 0x400b,
} as const

export const fsTypes = { squashfs: 1, ext3: 2, archive: 3, raw: 4, encryptedSquashfs: 5 } as const
export const partitionTypes = { system: 1, primarySystem: 2, data: 3, overlay: 4 } as const

/** Docker/Go architecture names to SIF's two-digit codes: every code of the SIF library's table. */
export const archCodes: Readonly<Record<string, string>> = {
  '386': '01',
  amd64: '02',
  arm: '03',
  arm64: '04',
  ppc64: '05',
  ppc64le: '06',
  mips: '07',
  mipsle: '08',
  mips64: '09',
  mips64le: '10',
  s390x: '11',
  riscv64: '12',
  loong64: '13',
}

export function sifArch(dockerArch: string): string {
  return archCodes[dockerArch] ?? '00'
}

/** A SIF two-digit code back to its Go name ('unknown' for 00 or a code we do not know). */
export function sifArchName(code: string): string {
  return Object.entries(archCodes).find(([, c]) => c === code)?.[0] ?? 'unknown'
}

export const GROUP_MASK = 0xf0000000

export interface SmallObject {
  type: number
  name: string
  data: Buffer
}

export interface SifPlan {
  /** Everything before the partition: header, descriptors, small objects, padding. */
  head: Buffer
  partitionOffset: number
  partitionSize: number
  fileSize: number
}

const align = (value: number) => Math.ceil(value / ALIGNMENT) * ALIGNMENT

/** The head of a SIF whose last object is a squashfs primary partition of `partitionSize` bytes. */
export function planSif(options: {
  objects: readonly SmallObject[]
  partitionSize: number
  /** Docker architecture name (amd64, arm64...). */
  arch: string
  partitionName?: string
  time?: number
  id?: string
}): SifPlan {
  const time = options.time ?? Math.floor(Date.now() / 1000)
  const arch = sifArch(options.arch)
  const dataOffset = DESCRIPTORS_OFFSET + DESCRIPTORS_TOTAL * DESCRIPTOR_SIZE
  interface Placed {
    type: number
    name: string
    offset: number
    size: number
    sizeWithPadding: number
    extra?: Buffer
  }
  const placed: Placed[] = []
  let end = dataOffset
  for (const object of options.objects) {
    const offset = align(end)
    placed.push({ type: object.type, name: object.name, offset, size: object.data.length, sizeWithPadding: offset - end + object.data.length })
    end = offset + object.data.length
  }
  const partitionOffset = align(end)
  const extra = Buffer.alloc(11)
  extra.writeInt32LE(fsTypes.squashfs, 0)
  extra.writeInt32LE(partitionTypes.primarySystem, 4)
  extra.write(arch, 8, 2, 'ascii')
  placed.push({
    type: dataTypes.partition,
    name: options.partitionName ?? 'rootfs.squashfs',
    offset: partitionOffset,
    size: options.partitionSize,
    sizeWithPadding: partitionOffset - end + options.partitionSize,
    extra,
  })
  const fileSize = partitionOffset + options.partitionSize

  const head = Buffer.alloc(partitionOffset)
  head.write(LAUNCH_SCRIPT, 0, 32, 'ascii')
  head.write(SIF_MAGIC, 32, 10, 'ascii')
  head.write('01', 42, 3, 'ascii')
  head.write(arch, 45, 3, 'ascii')
  Buffer.from((options.id ?? randomUUID()).replace(/-/g, ''), 'hex').copy(head, 48)
  head.writeBigInt64LE(BigInt(time), 64)
  head.writeBigInt64LE(BigInt(time), 72)
  head.writeBigInt64LE(BigInt(DESCRIPTORS_TOTAL - placed.length), 80)
  head.writeBigInt64LE(BigInt(DESCRIPTORS_TOTAL), 88)
  head.writeBigInt64LE(BigInt(DESCRIPTORS_OFFSET), 96)
  head.writeBigInt64LE(BigInt(DESCRIPTORS_TOTAL * DESCRIPTOR_SIZE), 104)
  head.writeBigInt64LE(BigInt(dataOffset), 112)
  head.writeBigInt64LE(BigInt(fileSize - dataOffset), 120)

  placed.forEach((object, index) => {
    const at = DESCRIPTORS_OFFSET + index * DESCRIPTOR_SIZE
    head.writeInt32LE(object.type, at)
    head.writeUInt8(1, at + 4)
    head.writeUInt32LE(index + 1, at + 5)
    head.writeUInt32LE((1 | GROUP_MASK) >>> 0, at + 9)
    head.writeUInt32LE(0, at + 13)
    head.writeBigInt64LE(BigInt(object.offset), at + 17)
    head.writeBigInt64LE(BigInt(object.size), at + 25)
    head.writeBigInt64LE(BigInt(object.sizeWithPadding), at + 33)
    head.writeBigInt64LE(BigInt(time), at + 41)
    head.writeBigInt64LE(BigInt(time), at + 49)
    head.write(object.name, at + 73, 128, 'utf8')
    object.extra?.copy(head, at + 201)
  })
  options.objects.forEach((object, index) => object.data.copy(head, placed[index]!.offset))
  return { head, partitionOffset, partitionSize: options.partitionSize, fileSize }
}
