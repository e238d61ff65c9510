// What the image's own layers hold at the few paths where `docker export` shows docker's
// init layer instead. `docker create` stacks an init layer on the image that unlinks and
// recreates /.dockerenv, /etc/hostname, /etc/hosts, /etc/resolv.conf, /dev/console and
// /etc/mtab (and makes /dev/pts, /dev/shm, /proc, /sys): the export then hides the image's
// own /etc/hostname, its /dev/console device node, its /etc/mtab link, and adds /.dockerenv.
// Apptainer unpacks the layers, so its files hold the image's entries there. We keep the
// export for everything else (one merged stream, whiteouts already applied by the engine)
// and read the image's entries at these paths from `docker save`, whiteouts and opaque
// directories applied, top layer first.
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { BLOCK, isZeroBlock, normalizePath, padded, parseHeader, parsePax } from './rootfsTar.js'

/**
 * Paths docker's init layer replaces and whose image entry we restore from the layers.
 * /etc/hosts and /etc/resolv.conf are not here: like Apptainer's build, we always write them
 * empty with mode 0644. The directories /etc, /dev, /proc and /sys are: the export holds them
 * with the time the container was made (the init layer wrote in them, or made them), which
 * would make every conversion differ; the image's own are restored, or, when the image has
 * none, the layout adds them as Apptainer's build does.
 */
export const initLayerPaths = ['etc', 'dev', 'proc', 'sys', '.dockerenv', 'etc/hostname', 'etc/mtab', 'dev/console', 'dev/pts', 'dev/shm'] as const

/** The strict ancestors of a path: 'dev/pts' -> ['', 'dev']. */
function ancestors(path: string): string[] {
  const parts = path.split('/')
  return parts.map((_, i) => parts.slice(0, i).join('/'))
}

/** An image entry at a watched path, as the layer's tar holds it. */
export interface LayerEntry {
  path: string
  /** The tar type flag: '0' file, '2' symlink, '5' directory, '3'/'4' devices... */
  type: string
  bytes: Buffer
}

interface EntryStart {
  path: string
  type: string
  size: number
  /** The entry's own header block with the PAX/GNU records before it, as the archive has them. */
  raw: Buffer
}

/** A header's checksum field matches its bytes (the checksum field counted as spaces). */
function checksumOk(block: Buffer): boolean {
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!
  const field = block.toString('ascii', 148, 156).replace(/[\0 ]+$/, '').trim()
  return field !== '' && parseInt(field, 8) === sum
}

/**
 * A push parser of a tar stream: `entry` is called at each entry's header and says whether it
 * wants the data, `data` receives it (without the padding), `end` follows the data.
 */
export class TarParser {
  private mode: 'header' | 'extension' | 'data' | 'end' = 'header'
  private small: Buffer[] = []
  private smallLength = 0
  private need = BLOCK
  /** Data bytes left, then padding bytes left, of the current entry. */
  private remaining = 0
  private padding = 0
  private wanted = false
  private extensions: Buffer[] = []
  private extensionType = ''
  private paxPath: string | undefined
  private paxSize: number | undefined
  private gnuPath: string | undefined

  constructor(private readonly handlers: { entry(entry: EntryStart): boolean; data?(chunk: Buffer): void; end?(): void }) {}

  get ended(): boolean {
    return this.mode === 'end'
  }

  write(chunk: Buffer): void {
    let at = 0
    while (at < chunk.length && this.mode !== 'end') {
      if (this.mode === 'data') {
        if (this.remaining > 0) {
          const n = Math.min(this.remaining, chunk.length - at)
          if (this.wanted) this.handlers.data?.(chunk.subarray(at, at + n))
          this.remaining -= n
          at += n
        } else {
          const n = Math.min(this.padding, chunk.length - at)
          this.padding -= n
          at += n
        }
        if (this.remaining === 0 && this.padding === 0) this.finishEntry()
        continue
      }
      const n = Math.min(this.need - this.smallLength, chunk.length - at)
      this.small.push(chunk.subarray(at, at + n))
      this.smallLength += n
      at += n
      if (this.smallLength === this.need) {
        const record = Buffer.concat(this.small)
        this.small = []
        this.smallLength = 0
        if (this.mode === 'header') this.header(record)
        else this.extension(record)
      }
    }
  }

  private finishEntry(): void {
    this.mode = 'header'
    this.need = BLOCK
    if (this.wanted) this.handlers.end?.()
    this.wanted = false
  }

  private header(block: Buffer): void {
    if (isZeroBlock(block)) {
      this.mode = 'end'
      return
    }
    if (!checksumOk(block)) throw new Error('not a tar archive: bad header checksum')
    const raw = parseHeader(block)
    if (raw.type === 'x' || raw.type === 'L' || raw.type === 'K') {
      this.extensions.push(block)
      this.extensionType = raw.type
      this.mode = 'extension'
      this.need = padded(raw.size)
      if (this.need === 0) this.extension(Buffer.alloc(0))
      return
    }
    const path = normalizePath(this.paxPath ?? this.gnuPath ?? raw.path)
    const size = '123456'.includes(raw.type) ? 0 : (this.paxSize ?? raw.size)
    const entry = { path, type: raw.type === 'g' ? 'g' : raw.type, size, raw: Buffer.concat([...this.extensions, block]) }
    this.extensions = []
    this.paxPath = this.paxSize = this.gnuPath = undefined
    this.wanted = raw.type !== 'g' && this.handlers.entry(entry)
    this.remaining = size
    this.padding = padded(size) - size
    if (size === 0) this.finishEntry()
    else this.mode = 'data'
  }

  private extension(data: Buffer): void {
    this.extensions.push(data)
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
}

/** What one layer says about the watched paths. */
interface LayerFacts {
  /** Watched path -> the layer's tar entry there (header records, data, padding). */
  entries: Map<string, LayerEntry>
  /** Paths the layer deletes (`.wh.<name>`), kept when they are watched paths or their ancestors. */
  whiteouts: Set<string>
  /** Directories the layer makes opaque (`.wh..wh..opq`): lower layers' content hidden. */
  opaque: Set<string>
}

/** A layer tar's parser collecting its LayerFacts. */
function layerParser(facts: LayerFacts, watched: ReadonlySet<string>, relevant: ReadonlySet<string>): TarParser {
  let capturing: { path: string; type: string; chunks: Buffer[]; raw: Buffer; size: number } | undefined
  return new TarParser({
    entry(entry) {
      const slash = entry.path.lastIndexOf('/')
      const dir = slash === -1 ? '' : entry.path.slice(0, slash)
      const name = entry.path.slice(slash + 1)
      if (name === '.wh..wh..opq') {
        if (relevant.has(dir)) facts.opaque.add(dir)
        return false
      }
      if (name.startsWith('.wh.')) {
        const target = dir ? `${dir}/${name.slice(4)}` : name.slice(4)
        if (watched.has(target) || relevant.has(target)) facts.whiteouts.add(target)
        return false
      }
      if (!watched.has(entry.path)) return false
      if (entry.size === 0) {
        facts.entries.set(entry.path, { path: entry.path, type: entry.type, bytes: entry.raw })
        return false
      }
      capturing = { path: entry.path, type: entry.type, chunks: [], raw: entry.raw, size: entry.size }
      return true
    },
    data(chunk) {
      capturing!.chunks.push(Buffer.from(chunk))
    },
    end() {
      const { path, type, chunks, raw, size } = capturing!
      facts.entries.set(path, { path, type, bytes: Buffer.concat([raw, ...chunks, Buffer.alloc(padded(size) - size)]) })
      capturing = undefined
    },
  })
}

/** The topmost layer's word on `path`: its entry, or undefined when absent or deleted. */
export function resolveEntry(layers: readonly LayerFacts[], path: string): LayerEntry | undefined {
  const above = ancestors(path)
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i]!
    const entry = layer.entries.get(path)
    if (entry) return entry
    if (layer.whiteouts.has(path) || above.some((dir) => dir !== '' && layer.whiteouts.has(dir))) return undefined
    if (above.some((dir) => layer.opaque.has(dir))) return undefined
  }
  return undefined
}

/**
 * Read a `docker save` stream and give the image's own tar entries at `paths` (raw, ready to
 * be put in a tar stream), in the order of `paths`; paths the image does not hold are left out.
 * Both save layouts are read: the legacy one (`<id>/layer.tar`, `manifest.json` at the end)
 * and the OCI one of newer engines (`blobs/sha256/<digest>`, uncompressed layers).
 */
export async function imageEntriesAt(save: NodeJS.ReadableStream, paths: readonly string[] = initLayerPaths): Promise<LayerEntry[]> {
  const watched = new Set(paths)
  const relevant = new Set(paths.flatMap(ancestors))
  const layers = new Map<string, LayerFacts>()
  const aliases = new Map<string, string>()
  let manifest = ''
  let inner: TarParser | undefined
  let innerName = ''
  let capture: 'manifest' | 'layer' | undefined
  const outer = new TarParser({
    entry(entry) {
      const isManifest = entry.path === 'manifest.json'
      const isLayer = /(^|\/)layer\.tar$/.test(entry.path) || /^blobs\/sha256\/[0-9a-f]{64}$/.test(entry.path)
      if (entry.type === '2' && isLayer) {
        // The legacy layout links a layer shared by two ids to the first copy.
        const link = parseHeader(entry.raw.subarray(entry.raw.length - BLOCK)).linkName
        const from = entry.path.split('/').slice(0, -1)
        aliases.set(entry.path, normalizePath([...from, link].join('/').replace(/[^/]+\/\.\.\//g, '')))
        return false
      }
      if (entry.type !== '0' && entry.type !== '\0') return false
      if (isManifest) {
        capture = 'manifest'
        return true
      }
      if (isLayer) {
        const facts: LayerFacts = { entries: new Map(), whiteouts: new Set(), opaque: new Set() }
        layers.set(entry.path, facts)
        innerName = entry.path
        inner = layerParser(facts, watched, relevant)
        capture = 'layer'
        // A blob that is not a tar (a config JSON, a compressed layer) is told by its first block.
        return true
      }
      return false
    },
    data(chunk) {
      if (capture === 'manifest') manifest += chunk.toString('utf8')
      else if (inner) {
        try {
          if (!inner.ended) inner.write(chunk)
        } catch {
          // Not a tar archive (an OCI config or index blob): nothing to learn from it.
          layers.delete(innerName)
          inner = undefined
        }
      }
    },
    end() {
      capture = undefined
      inner = undefined
    },
  })
  await pipeline(
    save,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        try {
          outer.write(chunk)
          callback()
        } catch (error) {
          callback(error as Error)
        }
      },
    }),
  )
  let order: string[]
  try {
    const parsed = JSON.parse(manifest) as { Layers?: string[] }[]
    order = parsed[0]?.Layers ?? []
  } catch {
    throw new Error('the image export has no readable manifest.json')
  }
  const stack = order.map((name) => {
    const facts = layers.get(name) ?? layers.get(aliases.get(name) ?? '')
    if (!facts) throw new Error(`the image export lacks the layer ${name}`)
    return facts
  })
  return paths.map((path) => resolveEntry(stack, path)).filter((entry): entry is LayerEntry => entry !== undefined)
}
