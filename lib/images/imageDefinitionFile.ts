// One `casa_distro_docker.yaml`, read and validated (lib/images/imageDefinitionYaml.ts), through a
// cache of validated definitions keyed by the file's content: a no-op create_docker over 10
// images spent about 65 ms of its 370 ms loading the YAML library and parsing. The cache is
// best effort (any trouble with it means parsing again) and stamped with the validator's code.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { codeStamp, readCacheFile, writeCacheFile } from '../util/cacheFile.js'
import { UserError } from '../util/errors.js'
import { userCacheDir } from '../util/paths.js'
import type { DefinitionSpec } from './imageDefinition.js'

export const definitionFileName = 'casa_distro_docker.yaml'

export { visibilities, type DefinitionSpec, type ImageSourceSpec, type Visibility } from './imageDefinition.js'

export async function readDefinitionFile(file: string): Promise<DefinitionSpec> {
  let text: string
  try {
    text = readFileSync(file, 'utf8') // small files: a synchronous read beats the thread pool's queue
  } catch (error) {
    throw new UserError(`${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`)
  }
  const key = createHash('sha256').update(text).digest('hex')
  const cache = loadCache()
  const known = cache.entries[key]
  if (known) {
    cache.used.add(key)
    return known
  }
  const { parseDefinition } = await import('./imageDefinitionYaml.js')
  const spec = parseDefinition(text, file)
  cache.entries[key] = spec
  cache.used.add(key)
  cache.changed = true
  return spec
}

interface DefinitionCache {
  /** sha256 of the validator module, undefined when it cannot be read (no caching then). */
  stamp: string | undefined
  entries: Record<string, DefinitionSpec>
  used: Set<string>
  changed: boolean
}

let cache: DefinitionCache | undefined
const cacheFile = () => join(userCacheDir(), 'image-definitions.json')

function loadCache(): DefinitionCache {
  if (cache) return cache
  // The compiled validator sits next to this module, the source next to the source. In the
  // casa-distro zip both are bundled into chunks whose names carry a hash of their content
  // and of the chunks they import: this module's own file then stands for the validator.
  const stamp =
    codeStamp(new URL(`./imageDefinitionYaml.${import.meta.url.endsWith('.ts') ? 'ts' : 'js'}`, import.meta.url)) ??
    (/\/imageDefinitionFile\.[jt]s$/.test(import.meta.url) ? undefined : codeStamp(new URL(import.meta.url)))
  const data = readCacheFile(cacheFile()) as { stamp?: string; entries?: Record<string, DefinitionSpec> } | undefined
  const entries = stamp && data?.stamp === stamp && data.entries && typeof data.entries === 'object' ? data.entries : {}
  cache = { stamp, entries, used: new Set(), changed: false }
  return cache
}

/** Above this many remembered definitions, only those read by this run are kept. */
const maxEntries = 5000

/** Write the cache back when this run parsed something new. */
export function saveDefinitionCache(): void {
  if (!cache?.changed || !cache.stamp) return
  let entries = cache.entries
  if (Object.keys(entries).length > maxEntries) entries = Object.fromEntries([...cache.used].map((key) => [key, cache!.entries[key]!]))
  // A read-only or full home: the next run parses again.
  if (writeCacheFile(cacheFile(), { stamp: cache.stamp, entries })) cache.changed = false
}
