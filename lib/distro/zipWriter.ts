// A small zip writer (deflate, unix permissions kept), so packaging needs no `zip` program
// and the same inputs give the same bytes: every entry gets one fixed timestamp, entries are
// written in a sorted order. Enough for packages of a few hundred files under 4 GiB (no zip64).
import { crc32, deflateRawSync } from 'node:zlib'

export interface ZipEntry {
  /** `/`-separated path inside the archive; directories end with `/`. */
  name: string
  data?: Buffer
  /** Unix permission bits (0o644 files, 0o755 executables and directories). */
  mode?: number
}

// 2020-01-01 00:00 in MS-DOS time/date fields: fixed, so that the archive is reproducible.
const DOS_TIME = 0
const DOS_DATE = ((2020 - 1980) << 9) | (1 << 5) | 1

export function zipArchive(entries: readonly ZipEntry[]): Buffer {
  const parts: Buffer[] = []
  const central: Buffer[] = []
  let offset = 0
  for (const entry of [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const isDir = entry.name.endsWith('/')
    const raw = isDir ? Buffer.alloc(0) : entry.data ?? Buffer.alloc(0)
    const deflated = raw.length > 0 ? deflateRawSync(raw, { level: 9 }) : raw
    const stored = deflated.length >= raw.length
    const body = stored ? raw : deflated
    const crc = crc32(raw)
    const name = Buffer.from(entry.name, 'utf8')
    const mode = (isDir ? 0o040000 : 0o100000) | (entry.mode ?? (isDir ? 0o755 : 0o644))

    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4) // version needed
    local.writeUInt16LE(0x0800, 6) // UTF-8 names
    local.writeUInt16LE(stored ? 0 : 8, 8)
    local.writeUInt16LE(DOS_TIME, 10)
    local.writeUInt16LE(DOS_DATE, 12)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(body.length, 18)
    local.writeUInt32LE(raw.length, 22)
    local.writeUInt16LE(name.length, 26)
    local.writeUInt16LE(0, 28)
    parts.push(local, name, body)

    const header = Buffer.alloc(46)
    header.writeUInt32LE(0x02014b50, 0)
    header.writeUInt16LE((3 << 8) | 20, 4) // made by: unix, so the permissions are read
    header.writeUInt16LE(20, 6)
    header.writeUInt16LE(0x0800, 8)
    header.writeUInt16LE(stored ? 0 : 8, 10)
    header.writeUInt16LE(DOS_TIME, 12)
    header.writeUInt16LE(DOS_DATE, 14)
    header.writeUInt32LE(crc, 16)
    header.writeUInt32LE(body.length, 20)
    header.writeUInt32LE(raw.length, 24)
    header.writeUInt16LE(name.length, 28)
    header.writeUInt32LE(((mode << 16) | (isDir ? 0x10 : 0)) >>> 0, 38)
    header.writeUInt32LE(offset, 42)
    central.push(header, name)
    offset += local.length + name.length + body.length
  }
  const centralSize = central.reduce((sum, b) => sum + b.length, 0)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(central.length / 2, 8)
  end.writeUInt16LE(central.length / 2, 10)
  end.writeUInt32LE(centralSize, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...parts, ...central, end])
}
