// Room in a SIF descriptor table for objects to add (a signature), for files whose table is
// full (written by other tools; ours leave 45 free slots). The table grows in place when the
// space between it and the first object is enough (that space belongs to no object);
// otherwise the file is rewritten under a temporary name with every object moved down by a
// multiple of 4096 (partitions stay aligned), then renamed over the original. Offsets are not
// covered by signatures (lib/sif/sifIntegrity.ts), so existing signatures stay valid.
import { randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { open, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { UserError } from '../util/errors.js'
import { onInterrupt } from '../util/interrupt.js'
import { ALIGNMENT, DESCRIPTOR_SIZE } from './sifWriter.js'
import type { SifFile } from './sifReader.js'
import type { SifRaw } from './sifIntegrity.js'

/** Slots added at least, so that signing again later does not rewrite the file again. */
const MINIMUM_GROWTH = 16

/** Make at least `needed` free descriptor slots; returns how the room was made. */
export async function makeDescriptorRoom(sif: SifFile, raw: SifRaw, needed: number): Promise<'in place' | 'rewritten'> {
  const { descriptorsOffset, descriptorsTotal, dataOffset, dataSize } = sif.header
  const end = dataOffset + dataSize
  // Where the first object's data starts: the padding in front of it belongs to no one.
  const firstObject = Math.min(end, ...sif.descriptors.map((d) => d.offset))
  const fitting = Math.floor((firstObject - descriptorsOffset) / DESCRIPTOR_SIZE)
  if (fitting - descriptorsTotal >= needed) {
    const total = Math.min(fitting, descriptorsTotal + Math.max(needed, MINIMUM_GROWTH))
    const head = tableOf(raw, total)
    head.writeBigInt64LE(BigInt(sif.header.descriptorsFree + total - descriptorsTotal), 80)
    const tableEnd = descriptorsOffset + total * DESCRIPTOR_SIZE
    if (dataOffset < tableEnd) {
      head.writeBigInt64LE(BigInt(tableEnd), 112)
      head.writeBigInt64LE(BigInt(end - tableEnd), 120)
    }
    const handle = await open(sif.path, 'r+')
    try {
      await handle.write(head, 0, head.length, 0)
      await handle.datasync()
    } finally {
      await handle.close()
    }
    return 'in place'
  }
  const total = descriptorsTotal + Math.max(needed, MINIMUM_GROWTH)
  const tableEnd = descriptorsOffset + total * DESCRIPTOR_SIZE
  const shift = Math.ceil((tableEnd - firstObject) / ALIGNMENT) * ALIGNMENT
  const head = tableOf(raw, total)
  head.writeBigInt64LE(BigInt(sif.header.descriptorsFree + total - descriptorsTotal), 80)
  const newDataOffset = dataOffset >= firstObject ? dataOffset + shift : tableEnd
  head.writeBigInt64LE(BigInt(newDataOffset), 112)
  head.writeBigInt64LE(BigInt(end + shift - newDataOffset), 120)
  for (let i = 0; i < descriptorsTotal; i++) {
    const at = descriptorsOffset + i * DESCRIPTOR_SIZE
    if (head.readUInt8(at + 4) === 0) continue
    head.writeBigInt64LE(head.readBigInt64LE(at + 17) + BigInt(shift), at + 17)
  }
  const temp = join(dirname(sif.path), `.${basename(sif.path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`)
  const unregister = onInterrupt(() => rm(temp, { force: true }))
  try {
    const { mode } = await stat(sif.path)
    await pipeline(
      async function* () {
        yield head
        yield Buffer.alloc(firstObject + shift - head.length)
        if (end > firstObject) yield* createReadStream(sif.path, { start: firstObject, end: end - 1, highWaterMark: 1 << 22 })
      },
      createWriteStream(temp, { flags: 'wx', mode }),
    )
    const handle = await open(temp, 'r')
    await handle.datasync().finally(() => handle.close())
    await rename(temp, sif.path)
  } catch (error) {
    await rm(temp, { force: true })
    if ((error as NodeJS.ErrnoException).code === 'ENOSPC') throw new UserError(`no space left on device to make room for a signature in ${sif.path}`)
    throw error
  } finally {
    unregister()
  }
  return 'rewritten'
}

/** The header and a table of `total` slots: the used descriptors where they were, the rest free. */
function tableOf(raw: SifRaw, total: number): Buffer {
  const offset = raw.header.readBigInt64LE(96)
  const head = Buffer.alloc(Number(offset) + total * DESCRIPTOR_SIZE)
  raw.head.copy(head, 0, 0, Math.min(raw.head.length, head.length))
  head.writeBigInt64LE(BigInt(total), 88)
  head.writeBigInt64LE(BigInt(total * DESCRIPTOR_SIZE), 104)
  return head
}
