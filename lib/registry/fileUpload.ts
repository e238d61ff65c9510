// A local file read for an upload whose size and digest were taken beforehand (a SIF pushed
// as an ORAS blob). What goes wrong on our side must say so: a read error (EIO, the file
// removed or made a directory) or a file that changed since its digest was taken would
// otherwise reach the HTTP client as a failure of the request, and read as the registry
// being unreachable. The stream fails before its end in those cases, so the request is
// aborted before it completes and the registry keeps no blob of it.
//
// A change is seen from the file's identity (device, inode, size, modification time) taken
// before its digest and again once it was read, not by hashing it a second time: that cost
// 0.45 s of CPU per 500 MB, 14% of a push to a local registry here. The registry checks the
// digest of what it receives anyway; this is about saying that the file changed.
import { createReadStream, fstat, openSync, type BigIntStats } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Transform, type Readable } from 'node:stream'
import { cannotRead } from '../util/errors.js'

/** What changes when a file is written to, replaced or truncated (not when it is only read or chmod'ed). */
function identityOf(stats: BigIntStats): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeNs}`
}

/** The identity of `path`, to be taken before its digest. */
export async function fileIdentity(path: string): Promise<{ size: number; identity: string }> {
  const stats = await stat(path, { bigint: true })
  return { size: Number(stats.size), identity: identityOf(stats) }
}

export function checkedFileSource(path: string, expected: { size: number; identity: string }): Readable {
  let bytes = 0
  let fd: number | undefined
  const changed = () =>
    cannotRead(path, `it changed during the upload (${bytes === expected.size ? 'other bytes than those whose digest was taken' : `${bytes} bytes instead of ${expected.size}`})`)
  const checked = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length
      if (bytes > expected.size) return done(changed())
      done(null, chunk)
    },
    // Before 'end': the last bytes must not complete a request for content that is not the digest's.
    flush(done) {
      if (bytes !== expected.size || fd === undefined) return done(changed())
      fstat(fd, { bigint: true }, (error, stats) => done(error ? cannotRead(path, error) : identityOf(stats) === expected.identity ? null : changed()))
    },
  })
  try {
    // Opened here, kept open until the check: fstat then looks at the file that was read.
    fd = openSync(path, 'r')
  } catch (error) {
    process.nextTick(() => checked.destroy(cannotRead(path, error)))
    return checked
  }
  const file = createReadStream(path, { fd, autoClose: false, highWaterMark: 1 << 20 })
  file.once('error', (error) => checked.destroy(cannotRead(path, error)))
  // destroy() closes the descriptor, autoClose or not: kept open past the read's end only for fstat.
  checked.once('close', () => file.destroy())
  file.pipe(checked)
  return checked
}
