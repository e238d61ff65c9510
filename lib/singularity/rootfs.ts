// The docker-export-to-Singularity-layout stream: a Transform taking the tar stream of
// `docker export` and giving the tar stream of the image's root file system as a runtime
// expects it, without unpacking anything. Image entries pass through byte for byte (their
// PAX/GNU records included) except those at paths we generate, which are dropped; the
// /.singularity.d tree, mount points and links are appended before the end of the archive.
import { Transform, type TransformCallback } from 'node:stream'
import { singularityLayout, type ImageRuntimeConfig } from './rootfsLayout.js'
import { BLOCK, entryBytes, isZeroBlock, normalizePath, padded, parseHeader, parsePax, type NewEntry } from './rootfsTar.js'

export interface RootfsProgress {
  /** Bytes of the docker export read so far. */
  bytesIn: number
  entries: number
}

const noData = new Set(['1', '2', '3', '4', '5', '6'])

export class RootfsStream extends Transform {
  readonly progress: RootfsProgress = { bytesIn: 0, entries: 0 }
  /** Paths of image entries that were dropped because we generate them. */
  readonly dropped: string[] = []

  private readonly replaced: Map<string, NewEntry>
  private readonly ifMissing: NewEntry[]
  /** Types of the image's entries at the paths we might add ('5' directory, '2' link...). */
  private readonly seen = new Map<string, string>()
  private readonly watched: Set<string>

  private mode: 'header' | 'extension' | 'data' | 'end' = 'header'
  private small: Buffer[] = []
  private smallLength = 0
  private need = BLOCK
  private remaining = 0
  private keep = true
  /** Raw PAX/GNU records waiting for the entry they describe. */
  private extensions: Buffer[] = []
  private extensionType = ''
  private paxPath: string | undefined
  private paxSize: number | undefined
  private gnuPath: string | undefined

  constructor(config: ImageRuntimeConfig, private readonly mtime = Math.floor(Date.now() / 1000)) {
    // Large buffers: fewer pauses between docker export and tar2sqfs (measured: the pipe
    // is otherwise throttled by 16 KiB backpressure steps).
    super({ highWaterMark: 1 << 20 })
    const layout = singularityLayout(config)
    this.replaced = new Map(layout.replaced.map((e) => [e.path, e]))
    this.ifMissing = [...layout.directories, ...layout.filesIfMissing]
    this.watched = new Set(this.ifMissing.map((e) => e.path))
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.progress.bytesIn += chunk.length
    try {
      let at = 0
      while (at < chunk.length && this.mode !== 'end') {
        if (this.mode === 'data') {
          const n = Math.min(this.remaining, chunk.length - at)
          if (this.keep) this.out(chunk.subarray(at, at + n))
          this.remaining -= n
          at += n
          if (this.remaining === 0) this.mode = 'header'
          continue
        }
        const n = Math.min(this.need - this.smallLength, chunk.length - at)
        this.small.push(chunk.subarray(at, at + n))
        this.smallLength += n
        at += n
        if (this.smallLength === this.need) {
          const record = this.small.length === 1 ? this.small[0]! : Buffer.concat(this.small)
          this.small = []
          this.smallLength = 0
          // Input chunks are fresh buffers, never reused: views of them may be kept and pushed.
          if (this.mode === 'header') this.header(record)
          else this.extension(record)
        }
      }
      this.flushOut()
      callback()
    } catch (error) {
      callback(error as Error)
    }
  }

  /**
   * Output of one input chunk, pushed as one buffer: headers and data pieces pushed one by
   * one became one pipe write each (tens of thousands of 512-byte writes to tar2sqfs).
   * Pieces that follow each other in the same input chunk are joined as one view, so a chunk
   * passed through whole is pushed without a copy (copying every byte cost a tenth of the
   * main thread's time on a 500 MB export).
   */
  private pending: Buffer[] = []
  private out(piece: Buffer): void {
    const last = this.pending[this.pending.length - 1]
    if (last && last.buffer === piece.buffer && last.byteOffset + last.length === piece.byteOffset) {
      this.pending[this.pending.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + piece.length)
    } else {
      this.pending.push(piece)
    }
  }
  private flushOut(): void {
    if (this.pending.length === 0) return
    this.push(this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending))
    this.pending = []
  }

  private header(block: Buffer): void {
    if (isZeroBlock(block)) {
      this.mode = 'end'
      return
    }
    const raw = parseHeader(block)
    if (raw.type === 'x' || raw.type === 'L' || raw.type === 'K') {
      this.extensions.push(block)
      this.extensionType = raw.type
      this.mode = 'extension'
      this.need = padded(raw.size)
      if (this.need === 0) this.extension(Buffer.alloc(0))
      return
    }
    if (raw.type === 'g') {
      // A global PAX header applies to every later entry: keep it as it is.
      this.out(block)
      this.startData(padded(raw.size), true)
      return
    }
    const path = normalizePath(this.paxPath ?? this.gnuPath ?? raw.path)
    const size = noData.has(raw.type) ? 0 : (this.paxSize ?? raw.size)
    const keep = !this.replaced.has(path)
    if (keep) {
      for (const record of this.extensions) this.out(record)
      this.out(block)
      if (this.watched.has(path)) this.seen.set(path, raw.type === '5' ? '5' : raw.type)
      this.progress.entries++
    } else {
      this.dropped.push(path)
    }
    this.extensions = []
    this.paxPath = this.paxSize = this.gnuPath = undefined
    this.startData(padded(size), keep)
  }

  private extension(data: Buffer): void {
    this.extensions.push(Buffer.from(data))
    if (this.extensionType === 'x') {
      const records = parsePax(data)
      if (records.has('path')) this.paxPath = records.get('path')
      if (records.has('size')) this.paxSize = Number(records.get('size'))
    } else if (this.extensionType === 'L') {
      const end = data.indexOf(0)
      this.gnuPath = data.subarray(0, end === -1 ? data.length : end).toString('utf8')
    }
    this.mode = 'header'
    this.need = BLOCK
  }

  private startData(length: number, keep: boolean): void {
    this.keep = keep
    this.remaining = length
    this.need = BLOCK
    this.mode = length > 0 ? 'data' : 'header'
  }

  /** A path whose parent the image made something other than a directory (a link). */
  private underNonDirectory(path: string): boolean {
    const parts = path.split('/')
    for (let i = 1; i < parts.length; i++) {
      const type = this.seen.get(parts.slice(0, i).join('/'))
      if (type !== undefined && type !== '5') return true
    }
    return false
  }

  override _flush(callback: TransformCallback): void {
    if (this.mode !== 'end' && (this.mode !== 'header' || this.smallLength !== 0)) {
      callback(new Error('the docker export stream ended in the middle of the archive'))
      return
    }
    for (const entry of this.ifMissing) {
      if (this.seen.has(entry.path) || this.underNonDirectory(entry.path)) continue
      this.seen.set(entry.path, entry.type === 'directory' ? '5' : '0')
      this.push(entryBytes(entry, this.mtime))
    }
    for (const entry of this.replaced.values()) this.push(entryBytes(entry, this.mtime))
    this.push(Buffer.alloc(2 * BLOCK))
    callback()
  }
}
