// The few tar facts the rootfs stream needs: reading the path, type and size of an entry
// from its 512-byte header (plus PAX and GNU long-name records before it), and writing the
// plain ustar headers of the files we add. Entries we keep are passed through byte for
// byte, so owners, modes, hard links, xattrs, long and non-ASCII names stay exactly as
// docker export wrote them; this module never re-encodes them.

export const BLOCK = 512

/** Round up to whole tar blocks. */
export const padded = (size: number) => Math.ceil(size / BLOCK) * BLOCK

/** A NUL-terminated field as text (bytes kept as UTF-8, which is what docker export writes). */
function text(header: Buffer, offset: number, length: number): string {
  const field = header.subarray(offset, offset + length)
  const end = field.indexOf(0)
  return field.subarray(0, end === -1 ? length : end).toString('utf8')
}

/** A numeric field: octal text, or GNU base-256 (first byte 0x80) for values over 8 GiB. */
function number(header: Buffer, offset: number, length: number): number {
  const field = header.subarray(offset, offset + length)
  if (field[0]! & 0x80) {
    let value = field[0]! & 0x7f
    for (let i = 1; i < length; i++) value = value * 256 + field[i]!
    return value
  }
  const digits = text(header, offset, length).trim()
  return digits ? parseInt(digits, 8) : 0
}

export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (block[i] !== 0) return false
  return true
}

export interface RawHeader {
  /** Path as written in name (prefixed by the ustar prefix). */
  path: string
  /** '0' file, '1' hard link, '2' symlink, '5' directory, 'x'/'g' PAX, 'L'/'K' GNU long names... */
  type: string
  size: number
  linkName: string
}

export function parseHeader(header: Buffer): RawHeader {
  const name = text(header, 0, 100)
  const magic = text(header, 257, 6)
  const prefix = magic.startsWith('ustar') && magic !== 'ustar ' ? text(header, 345, 155) : ''
  return {
    path: prefix ? `${prefix}/${name}` : name,
    type: String.fromCharCode(header[156] || 0x30),
    size: number(header, 124, 12),
    linkName: text(header, 157, 100),
  }
}

/** The records of a PAX extended header (`<len> key=value\n` ...). */
export function parsePax(data: Buffer): Map<string, string> {
  const records = new Map<string, string>()
  let at = 0
  while (at < data.length) {
    const space = data.indexOf(0x20, at)
    if (space === -1) break
    const length = parseInt(data.subarray(at, space).toString('ascii'), 10)
    if (!(length > 0)) break
    const record = data.subarray(space + 1, at + length - 1).toString('utf8')
    const eq = record.indexOf('=')
    if (eq > 0) records.set(record.slice(0, eq), record.slice(eq + 1))
    at += length
  }
  return records
}

/** "./usr/bin/" -> "usr/bin": how we compare paths, whatever the archive's spelling. */
export function normalizePath(path: string): string {
  return path.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '')
}

export interface NewEntry {
  path: string
  type: 'file' | 'directory' | 'symlink'
  mode: number
  content?: string
  target?: string
}

/** A ustar header (+ data, padded) for an entry we add. Our paths are short and ASCII. */
export function entryBytes(entry: NewEntry, mtime: number): Buffer {
  const data = Buffer.from(entry.content ?? '', 'utf8')
  const size = entry.type === 'file' ? data.length : 0
  const header = Buffer.alloc(BLOCK)
  const name = entry.type === 'directory' ? `${entry.path}/` : entry.path
  if (Buffer.byteLength(name) > 100) throw new Error(`internal: generated path too long: ${name}`)
  header.write(name, 0, 100, 'utf8')
  const octal = (value: number, offset: number, length: number) => header.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii')
  octal(entry.mode, 100, 8)
  octal(0, 108, 8)
  octal(0, 116, 8)
  octal(size, 124, 12)
  octal(mtime, 136, 12)
  header.write(entry.type === 'file' ? '0' : entry.type === 'symlink' ? '2' : '5', 156, 1, 'ascii')
  if (entry.target) header.write(entry.target, 157, 100, 'utf8')
  header.write('ustar\u000000', 257, 8, 'binary')
  header.write('root', 265, 32, 'ascii')
  header.write('root', 297, 32, 'ascii')
  header.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of header) sum += byte
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii')
  const out = Buffer.alloc(BLOCK + padded(size))
  header.copy(out, 0)
  data.copy(out, BLOCK)
  return out
}
