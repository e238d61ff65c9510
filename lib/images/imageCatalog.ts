// The image catalog: every image definition found on the search path
// (`<dir>/<image_type>/<system>/casa_distro_docker.yaml`, the first directory holding a given
// `<image_type>/<system>` wins), its images with names and tags templated, and the
// definitions each one depends on. Everything Docker would reject, every unknown template
// parameter and every dependency resolving to nothing is an error here, before anything runs.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { isAbsolute, join, relative, resolve, sep } from 'node:path'
import { dockerPathPattern } from '../config/configSchema.js'
import { UserError } from '../util/errors.js'
import { definitionFileName, readDefinitionFile, saveDefinitionCache, type Visibility } from './imageDefinitionFile.js'
import { applyTemplate } from './imageTemplate.js'

export interface CatalogImage {
  /** `<namespace>/<name>` */
  repository: string
  name: string
  /** Every tag; the last one is the one built, the others are extra tags of the same image. */
  tags: string[]
  /** `<namespace>/<name>:<last tag>` */
  reference: string
  visibility: Visibility
  /** The template parameters of this image (for `*.template` files). */
  parameters: Record<string, string>
  definition: ImageDefinition
}

export interface ImageDefinition {
  /** `<image_type>/<system>` */
  key: string
  /** Absolute directory of the definition. */
  dir: string
  file: string
  /** Keys of the definitions this one depends on (directly). */
  dependencies: string[]
  images: CatalogImage[]
}

export interface ShadowedDefinition {
  key: string
  dir: string
  /** The directory of the definition that wins. */
  by: string
}

export interface ImageCatalog {
  definitions: ImageDefinition[]
  images: CatalogImage[]
  /** Definitions hidden by one of the same `<image_type>/<system>` earlier on the search path. */
  shadowed: ShadowedDefinition[]
  byKey: Map<string, ImageDefinition>
  /** The directories searched, in order (for messages that say where definitions were looked for). */
  searchPath: readonly string[]
}

export interface CatalogOptions {
  searchPath: readonly string[]
  namespace: string
  /** config.templateParameters: override the definitions' own parameters. */
  templateParameters: Readonly<Record<string, string>>
  /** The builtin `casa_version` parameter. */
  casaVersion: string
}

const tagPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/

/** Docker's rules for `<namespace>/<name>` and tags; the error names the file and line. */
export function checkDockerName(repository: string, tag: string, where: string): void {
  if (!dockerPathPattern.test(repository) || repository.length > 255) {
    throw new UserError(`${where}: "${repository}" is not a valid docker image name (lower-case letters, digits and . _ - separators)`)
  }
  if (!tagPattern.test(tag)) {
    throw new UserError(`${where}: "${tag}" is not a valid docker tag (letters, digits, _ . -; at most 128, not starting with . or -)`)
  }
}

// Directory listings are synchronous: thousands of tiny calls, each far cheaper than a trip
// through libuv's thread pool.
function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

function subdirectories(dir: string): string[] {
  try {
    const entries = readdirSync(dir, { withFileTypes: true })
    return entries
      .filter((e) => e.isDirectory() || (e.isSymbolicLink() && isDirectory(join(dir, e.name))))
      .map((e) => e.name)
      .sort()
  } catch {
    return []
  }
}

interface Found {
  key: string
  dir: string
  searchDir: string
}

/** Every `<image_type>/<system>/casa_distro_docker.yaml` of the search path, first found wins. */
function findDefinitions(searchPath: readonly string[]): { found: Found[]; shadowed: ShadowedDefinition[] } {
  const winners = new Map<string, Found>()
  const shadowed: ShadowedDefinition[] = []
  for (const searchDir of searchPath) {
    if (!isDirectory(searchDir)) continue
    for (const imageType of subdirectories(searchDir)) {
      for (const system of subdirectories(join(searchDir, imageType))) {
        const dir = join(searchDir, imageType, system)
        if (!existsSync(join(dir, definitionFileName))) continue
        const key = `${imageType}/${system}`
        const winner = winners.get(key)
        if (winner) shadowed.push({ key, dir, by: winner.dir })
        else winners.set(key, { key, dir, searchDir })
      }
    }
  }
  return { found: [...winners.values()], shadowed }
}

export async function loadCatalog(options: CatalogOptions): Promise<ImageCatalog> {
  const { found, shadowed } = findDefinitions(options.searchPath)
  const definitions: ImageDefinition[] = []
  const pendingDependencies = new Map<ImageDefinition, { found: Found; deps: { path: string; line: number }[] }>()
  const references = new Map<string, string>()
  for (const item of found) {
    const file = join(item.dir, definitionFileName)
    const spec = await readDefinitionFile(file)
    const [imageType, system] = item.key.split('/') as [string, string]
    const definition: ImageDefinition = { key: item.key, dir: item.dir, file, dependencies: [], images: [] }
    for (const source of spec.imageSources) {
      const where = `${file}:${source.line}`
      const parameters: Record<string, string> = {
        casa_version: options.casaVersion,
        namespace: options.namespace,
        image_type: imageType,
        system,
        ...source.templateParameters,
        ...options.templateParameters,
      }
      const name = applyTemplate(source.name, parameters, where)
      const tags = source.tags.map((tag) => applyTemplate(tag, parameters, where))
      const repository = `${options.namespace}/${name}`
      for (const tag of tags) checkDockerName(repository, tag, where)
      const reference = `${repository}:${tags.at(-1)!}`
      const other = references.get(reference)
      if (other) throw new UserError(`${where}: image ${reference} is also defined in ${other}`)
      references.set(reference, where)
      definition.images.push({ repository, name, tags, reference, visibility: source.visibility, parameters, definition })
    }
    definitions.push(definition)
    pendingDependencies.set(definition, { found: item, deps: spec.dependencies })
  }
  saveDefinitionCache()
  const byKey = new Map(definitions.map((d) => [d.key, d]))
  for (const [definition, { found: item, deps }] of pendingDependencies) {
    const keys = new Set<string>()
    for (const dep of deps) {
      const named = resolveDependency(dep.path, item, definitions, byKey)
      const resolved = named.filter((key) => key !== definition.key)
      for (const key of resolved) keys.add(key)
      // `dependencies: [.]` names only this definition: say so, it does hold one.
      if (resolved.length === 0 && named.length > 0) {
        throw new UserError(`${definition.file}:${dep.line}: dependency ${dep.path} is this image definition itself`)
      }
      if (resolved.length === 0) {
        throw new UserError(`${definition.file}:${dep.line}: dependency ${dep.path} (${resolve(item.dir, dep.path)}) holds no image definition`)
      }
    }
    definition.dependencies = [...keys].sort()
  }
  return { definitions, images: definitions.flatMap((d) => d.images), shadowed, byKey, searchPath: options.searchPath }
}

/** Where the definitions of `catalog` were looked for, to follow "No image match ...". */
export function searchedDirectories(catalog: ImageCatalog): string {
  if (catalog.searchPath.length === 0) return ': imageSearchPath is empty'
  return ` in the image definitions of ${catalog.searchPath.map((dir) => (isDirectory(dir) ? dir : `${dir} (no such directory)`)).join(', ')}`
}

/**
 * The definitions a `dependencies` entry names: every definition at or below that directory.
 * Inside the definition's own search directory the path is read as `<image_type>[/<system>]`
 * so that it also finds definitions another search directory provides (a site overriding
 * only casa-dev still depends on the builtin casa-test).
 */
function resolveDependency(path: string, item: Found, definitions: readonly ImageDefinition[], byKey: ReadonlyMap<string, ImageDefinition>): string[] {
  const target = resolve(item.dir, path)
  const inside = relative(item.searchDir, target)
  if (inside && !inside.startsWith('..') && !isAbsolute(inside)) {
    const prefix = inside.split(sep).join('/')
    // `<image_type>/<system>` names one definition: a lookup, not a scan (large catalogs).
    if (prefix.includes('/')) return byKey.has(prefix) ? [prefix] : []
    return definitions.filter((d) => d.key === prefix || d.key.startsWith(`${prefix}/`)).map((d) => d.key)
  }
  return definitions.filter((d) => d.dir === target || d.dir.startsWith(`${target}${sep}`)).map((d) => d.key)
}

/** The catalog as the configuration describes it; shadowed definitions are listed with -v. */
export async function catalogFromConfig(config: {
  imageSearchPath: readonly string[]
  namespace: string
  templateParameters: Readonly<Record<string, string>>
}): Promise<ImageCatalog> {
  const { version } = await import('../cli/task.js')
  const { ui } = await import('../util/ui.js')
  const catalog = await loadCatalog({
    searchPath: config.imageSearchPath,
    namespace: config.namespace,
    templateParameters: config.templateParameters,
    casaVersion: await version(),
  })
  for (const s of catalog.shadowed) ui.debug(`image definition ${s.dir} is shadowed by ${s.by}`)
  return catalog
}
