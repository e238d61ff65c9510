// The image's own entries at docker's init-layer paths, read from the engine's overlay2
// layer directories when this process can read them (root, or a readable /var/lib/docker):
// a few lstat calls per layer instead of `docker save`, which on Docker 20.10 copies the
// whole image to the engine's disk before it streams it (it doubled the conversion time of
// the 500 MB bench image). Same rules as imageLayers.ts, in overlay2's spelling: a
// character device 0/0 deletes, an `overlay.opaque` xattr hides the lower layers' content
// of a directory. Undefined whenever anything is not as expected (another storage driver, a
// remote engine, a directory we cannot read, no getfattr): the caller reads docker save.
import { lstat, readFile, readlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Stats } from 'node:fs'
import { isInstalled, run } from '../util/exec.js'
import { BLOCK, padded } from './rootfsTar.js'
import type { LayerEntry } from './imageLayers.js'

export interface GraphDriver {
  Name?: string
  Data?: Record<string, string> | null
}

/** The layer directories, top first, of an overlay2 image. */
function layerDirectories(driver: GraphDriver | undefined): string[] | undefined {
  if (driver?.Name !== 'overlay2' || !driver.Data?.UpperDir) return undefined
  return [driver.Data.UpperDir, ...(driver.Data.LowerDir ? driver.Data.LowerDir.split(':') : [])]
}

const ancestors = (path: string) => path.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))

/** Directories (among `dirs`) marked opaque, from one getfattr call. */
async function opaqueDirectories(dirs: string[]): Promise<Set<string> | undefined> {
  if (dirs.length === 0) return new Set()
  if (!(await isInstalled('getfattr'))) return undefined
  const result = await run('getfattr', ['--absolute-names', '-d', '-m', '^(trusted|user)\\.overlay\\.opaque$', ...dirs], { allowFailure: true })
  // Exit 1 with "No such file" lines for missing directories is expected; anything else on stderr is not.
  if (result.stderr.split('\n').some((l) => l.trim() && !/No such file or directory/.test(l))) return undefined
  const opaque = new Set<string>()
  let file = ''
  for (const line of result.stdout.split('\n')) {
    if (line.startsWith('# file: ')) file = line.slice(8)
    else if (/overlay\.opaque="y"/.test(line)) opaque.add(file)
  }
  return opaque
}

const lstatOrUndefined = (path: string) =>
  lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined
    throw error
  })

const isWhiteout = (st: Stats) => st.isCharacterDevice() && st.rdev === 0

/** A ustar entry (header, data, padding) for a layer directory's entry. */
async function tarEntry(path: string, full: string, st: Stats): Promise<LayerEntry | undefined> {
  const type = st.isFile() ? '0' : st.isSymbolicLink() ? '2' : st.isCharacterDevice() ? '3' : st.isBlockDevice() ? '4' : st.isDirectory() ? '5' : st.isFIFO() ? '6' : undefined
  if (!type || (type === '0' && st.size > 1 << 20)) return undefined
  const data = type === '0' ? await readFile(full) : Buffer.alloc(0)
  const target = type === '2' ? await readlink(full) : ''
  const name = type === '5' ? `${path}/` : path
  if (Buffer.byteLength(name) > 100 || Buffer.byteLength(target) > 100) return undefined
  const header = Buffer.alloc(BLOCK)
  const octal = (value: number, offset: number, length: number) => header.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii')
  header.write(name, 0, 100, 'utf8')
  octal(st.mode & 0o7777, 100, 8)
  octal(st.uid, 108, 8)
  octal(st.gid, 116, 8)
  octal(data.length, 124, 12)
  octal(Math.floor(st.mtimeMs / 1000), 136, 12)
  header.write(type, 156, 1, 'ascii')
  header.write(target, 157, 100, 'utf8')
  header.write('ustar\u000000', 257, 8, 'binary')
  if (type === '3' || type === '4') {
    octal(Math.floor(st.rdev / 256) & 0xfff, 329, 8) // major (Linux: bits 8-19)
    octal((st.rdev & 0xff) | (Math.floor(st.rdev / 4096) & 0xfff00), 337, 8) // minor
  }
  header.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of header) sum += byte
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii')
  return { path, type, bytes: Buffer.concat([header, data, Buffer.alloc(padded(data.length) - data.length)]) }
}

/** The image's entries at `paths`, from its overlay2 layer directories; undefined when they cannot be read. */
export async function entriesFromLayerDirectories(driver: GraphDriver | undefined, paths: readonly string[]): Promise<LayerEntry[] | undefined> {
  const layers = layerDirectories(driver)
  if (!layers) return undefined
  try {
    for (const dir of layers) if (!(await lstatOrUndefined(dir))?.isDirectory()) return undefined
    const parents = [...new Set(paths.flatMap(ancestors))]
    const opaque = await opaqueDirectories(layers.flatMap((dir) => parents.map((p) => join(dir, p))))
    if (!opaque) return undefined
    const entries: LayerEntry[] = []
    for (const path of paths) {
      for (const dir of layers) {
        const st = await lstatOrUndefined(join(dir, path))
        if (st) {
          if (isWhiteout(st)) break
          const entry = await tarEntry(path, join(dir, path), st)
          if (!entry) return undefined // something we would not write as the layer's tar has it
          entries.push(entry)
          break
        }
        let hidden = false
        for (const parent of ancestors(path)) {
          const above = await lstatOrUndefined(join(dir, parent))
          if (above && (!above.isDirectory() || opaque.has(join(dir, parent)))) hidden = true
        }
        if (hidden) break
      }
    }
    return entries
  } catch {
    return undefined // EACCES and the like: docker save instead
  }
}
