// Checking a casa-distro zip before it is published: that it is a whole zip archive (its end
// record and central directory where they should be, every entry's local header in place) and
// that the package.json it holds names the version the file name says. A truncated upload, a
// file renamed by hand from another version, or anything that is not a zip is refused before
// a byte reaches the hub and before casa-distro.zip is switched to it.
import { crc32, inflateRawSync } from 'node:zlib'

const END = 0x06054b50
const CENTRAL = 0x02014b50
const LOCAL = 0x04034b50

/** Why `data` is not the casa-distro package of `version`, or undefined when it is. */
export function casaDistroZipProblem(data: Buffer, version: string): string | undefined {
  // the end record: 22 bytes, followed by a comment of at most 65535
  let end = -1
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 65535); i--) {
    if (data.readUInt32LE(i) === END) {
      end = i
      break
    }
  }
  if (end < 0) return 'not a zip archive (no end of central directory: truncated?)'
  const count = data.readUInt16LE(end + 10)
  const size = data.readUInt32LE(end + 12)
  const start = data.readUInt32LE(end + 16)
  if (start + size > end) return 'a damaged zip archive (its central directory is past its end)'
  const wanted = `casa-distro-${version}/package.json`
  let manifest: Buffer | undefined
  for (let i = 0, at = start; i < count; i++) {
    if (at + 46 > end || data.readUInt32LE(at) !== CENTRAL) return `a damaged zip archive (entry ${i + 1} of ${count})`
    const method = data.readUInt16LE(at + 10)
    const crc = data.readUInt32LE(at + 16)
    const compressed = data.readUInt32LE(at + 20)
    const nameLength = data.readUInt16LE(at + 28)
    const extra = data.readUInt16LE(at + 30) + data.readUInt16LE(at + 32)
    const offset = data.readUInt32LE(at + 42)
    const name = data.subarray(at + 46, at + 46 + nameLength).toString('utf8')
    if (offset + 30 > start || data.readUInt32LE(offset) !== LOCAL) return `a damaged zip archive (${name}: no local header)`
    const body = offset + 30 + data.readUInt16LE(offset + 26) + data.readUInt16LE(offset + 28)
    if (body + compressed > start) return `a damaged zip archive (${name} runs past the data)`
    if (name === wanted) {
      try {
        const raw = data.subarray(body, body + compressed)
        manifest = method === 0 ? raw : method === 8 ? inflateRawSync(raw) : undefined
      } catch {
        return `a damaged zip archive (${name} does not inflate)`
      }
      if (!manifest || crc32(manifest) !== crc) return `a damaged zip archive (${name}: checksum mismatch)`
    }
    at += 46 + nameLength + extra
  }
  if (!manifest) return `no ${wanted} in it: not the casa-distro ${version} package`
  let named: unknown
  try {
    named = (JSON.parse(manifest.toString('utf8')) as { version?: unknown }).version
  } catch {
    return `${wanted} is not JSON`
  }
  if (named !== version) return `it holds casa-distro ${String(named)}, not ${version}`
  return undefined
}
