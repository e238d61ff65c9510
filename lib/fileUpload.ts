// A local file read for an upload whose size and digest were taken beforehand (a SIF pushed
// as an ORAS blob). What goes wrong on our side must say so: a read error (EIO, the file
// removed or made a directory) or a file that changed since its digest was taken would
// otherwise reach the HTTP client as a failure of the request, and read as the registry
// being unreachable. The stream fails before its end in those cases, so the request is
// aborted before it completes and the registry keeps no blob of it.
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { Transform, type Readable } from 'node:stream'
import { cannotRead } from './errors.js'

export function checkedFileSource(path: string, expected: { digest: string; size: number }): Readable {
  const hash = createHash('sha256')
  let bytes = 0
  const changed = () =>
    cannotRead(path, `it changed during the upload (${bytes === expected.size ? 'other bytes than those whose digest was taken' : `${bytes} bytes instead of ${expected.size}`})`)
  const checked = new Transform({
    highWaterMark: 1 << 20,
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length
      if (bytes > expected.size) return done(changed())
      hash.update(chunk)
      done(null, chunk)
    },
    // Before 'end': the last bytes must not complete a request for content that is not the digest's.
    flush(done) {
      done(bytes === expected.size && `sha256:${hash.digest('hex')}` === expected.digest ? null : changed())
    },
  })
  const file = createReadStream(path, { highWaterMark: 1 << 20 })
  file.once('error', (error) => checked.destroy(cannotRead(path, error)))
  checked.once('close', () => file.destroy())
  file.pipe(checked)
  return checked
}
