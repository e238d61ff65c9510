// The docker-export-to-Singularity-layout stream: a Transform taking the tar stream of
// `docker export` and giving the tar stream of the image's root file system as a runtime
// expects it, without unpacking anything. Image entries pass through byte for byte (their
// PAX/GNU records included) except those at paths we generate, which are dropped; the
// /.singularity.d tree, mount points and links are appended before the end of the archive.
// The entries of docker's init layer (lib/singularity/imageLayers.ts) are dropped from the
// export and the image's own entries at those paths, read from its layers, put in their place.
import { Transform, type TransformCallback } from 'node:stream'
import { BinaryIndex } from './elfArch.js'
import type { LayerEntry } from './imageLayers.js'
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
  /** ELF architectures and links of the program directories, for `binaryArch`. */
  private readonly binaries: BinaryIndex
  private readonly entrypoint: string | undefined
  private sniff: { path: string; chunks: Buffer[]; length: number } | undefined

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

  private readonly mtime: number
  private readonly initLayer: ReadonlySet<string>
  private readonly restored: Promise<LayerEntry[]> | undefined
  private readonly finalLabels: ((binaryArch: string | undefined) => Record<string, string>) | undefined

  /**
   * `options.mtime`: the time of the entries we add (a number alone is taken for it).
   * `options.initLayer`: paths whose export entries are docker's init layer, dropped;
   * `options.restored`: the image's own raw tar entries at those paths, added at the end.
   * `options.labels`: labels.json's content once the stream has shown the binaries' architecture.
   */
  constructor(
    config: ImageRuntimeConfig,
    options: number | { mtime?: number; initLayer?: readonly string[]; restored?: Promise<LayerEntry[]>; labels?: (binaryArch: string | undefined) => Record<string, string> } = {},
  ) {
    // Large buffers: fewer pauses between docker export and tar2sqfs (measured: the pipe
    // is otherwise throttled by 16 KiB backpressure steps).
    super({ highWaterMark: 1 << 20 })
    const { mtime, initLayer = [], restored, labels } = typeof options === 'number' ? { mtime: options } : options
    this.finalLabels = labels
    this.mtime = mtime ?? Math.floor(Date.now() / 1000)
    this.initLayer = new Set(initLayer)
    this.restored = restored
    const first = [...config.entrypoint, ...config.cmd][0]
    this.entrypoint = first?.startsWith('/') ? first.replace(/^\/+/, '') : undefined
    this.binaries = new BinaryIndex(this.entrypoint ? [this.entrypoint] : [])
    restored?.catch(() => undefined) // said by _flush, or by the caller when the stream fails first
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
          if (this.sniff) this.sniffed(chunk.subarray(at, at + n))
          this.remaining -= n
          at += n
          if (this.remaining === 0) {
            this.mode = 'header'
            if (this.sniff) this.sniffed(Buffer.alloc(0), true)
          }
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
    const keep = !this.replaced.has(path) && !this.initLayer.has(path)
    if (keep) {
      if ((raw.type === '0' || raw.type === '\0') && size > 0 && this.binaries.wants(path)) this.sniff = { path, chunks: [], length: 0 }
      else if (raw.type === '1' || raw.type === '2') this.binaries.link(path, raw.type === '1' ? normalizePath(raw.linkName) : raw.linkName, raw.type === '1')
      for (const record of this.extensions) this.out(record)
      this.out(block)
      if (this.watched.has(path)) this.seen.set(path, raw.type === '5' ? '5' : raw.type)
      this.progress.entries++
    } else if (!this.initLayer.has(path)) {
      this.dropped.push(path)
    }
    this.extensions = []
    this.paxPath = this.paxSize = this.gnuPath = undefined
    this.startData(padded(size), keep)
  }

  /** The first bytes of a watched program, handed to the index once there are enough. */
  private sniffed(piece: Buffer, ended = false): void {
    const sniff = this.sniff!
    if (sniff.length < 64 && piece.length) {
      sniff.chunks.push(Buffer.from(piece.subarray(0, 64 - sniff.length)))
      sniff.length += Math.min(piece.length, 64 - sniff.length)
    }
    if (sniff.length >= 64 || ended) {
      this.binaries.file(sniff.path, Buffer.concat(sniff.chunks))
      this.sniff = undefined
    }
  }

  /** The content of a file we generate, as written in the stream (after it ended, for labels.json). */
  generated(path: string): string | undefined {
    return this.replaced.get(path)?.content
  }

  /** The architecture of the image's binaries (its /bin/sh, else its entrypoint), once the stream has ended. */
  binaryArch(): string | undefined {
    return this.binaries.archOf(['bin/sh', ...(this.entrypoint ? [this.entrypoint] : [])])
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
    if (!this.restored) return this.finish(callback)
    this.restored.then(
      (entries) => {
        for (const entry of entries) {
          this.seen.set(entry.path, entry.type)
          this.push(entry.bytes)
        }
        this.finish(callback)
      },
      (error: Error) => callback(error),
    )
  }

  private finish(callback: TransformCallback): void {
    if (this.finalLabels) {
      const labels = this.replaced.get('.singularity.d/labels.json')!
      this.replaced.set(labels.path, { ...labels, content: `${JSON.stringify(this.finalLabels(this.binaryArch()), null, 2)}\n` })
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
