// The build plan: the images the filter selects plus the dependencies they need built first,
// in an order where every image comes after the images it depends on, each with what it
// will do and why. Whether an image is up to date is decided by two labels it carries: the
// digest of its staged context and the ids of its base images. Planning changes nothing, so
// `--dry-run` prints exactly this.
import type { ImageInfo } from '../docker/docker.js'
import { baseImages, contextDigest, contextFiles } from './buildContext.js'
import { UserError } from '../util/errors.js'
import { searchedDirectories, type CatalogImage, type ImageCatalog, type ImageDefinition } from './imageCatalog.js'
import { imageFilter, noMatch } from './imageFilter.js'
import { mapLimited } from '../util/mapLimited.js'

export const labels = {
  context: 'org.brainvisa.casa-distro.context-digest',
  base: 'org.brainvisa.casa-distro.base-ids',
  definition: 'org.brainvisa.casa-distro.definition',
} as const

export type PlanAction = 'build' | 'up to date'

export interface PlanItem {
  image: CatalogImage
  /** References of the catalog images this one depends on (all images of its dependency definitions). */
  dependsOn: string[]
  /** Matched by the filter (otherwise pulled in because something selected needs it). */
  selected: boolean
  action: PlanAction
  /** Why: "not built", "files changed", "base x rebuilt", "needed by y (not built)", "forced". */
  reason: string
  contextDigest: string
  /** Images it is made from: FROM and COPY --from images, and the images of its dependency definitions. */
  bases: string[]
  /** Local image id of the built tag, if any. */
  localId?: string
  /** The repository:tag names the local image has now. */
  localTags?: string[]
}

export interface BuildPlan {
  items: PlanItem[]
  filter: string
}

/** What planning needs to know about the engine (a map of inspected images). */
export type LocalImages = ReadonlyMap<string, ImageInfo>

/** Definitions in dependency order; a cycle is an error listing the definitions in it. */
export function definitionOrder(catalog: ImageCatalog): ImageDefinition[] {
  const order: ImageDefinition[] = []
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (definition: ImageDefinition): void => {
    const seen = state.get(definition.key)
    if (seen === 'done') return
    if (seen === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(definition.key)), definition.key]
      throw new UserError(`dependency cycle between image definitions: ${cycle.join(' -> ')} (${definition.file})`)
    }
    state.set(definition.key, 'visiting')
    stack.push(definition.key)
    for (const key of definition.dependencies) visit(catalog.byKey.get(key)!)
    stack.pop()
    state.set(definition.key, 'done')
    order.push(definition)
  }
  for (const definition of [...catalog.definitions].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) visit(definition)
  return order
}

/** Images in build order (definitions in dependency order, images of one definition as written). */
export function imageOrder(catalog: ImageCatalog): CatalogImage[] {
  return definitionOrder(catalog).flatMap((d) => d.images)
}

/** Every `<repository>:<tag>` of an image, for filters and for finding catalog images by reference. */
export function allReferences(image: CatalogImage): string[] {
  return image.tags.map((tag) => `${image.repository}:${tag}`)
}

export function matchImages(catalog: ImageCatalog, filterText: string): CatalogImage[] {
  const filter = imageFilter(filterText)
  const matched = catalog.images.filter((image) => allReferences(image).some((ref) => filter.matches(ref)))
  if (matched.length === 0) throw noMatch(filter, searchedDirectories(catalog))
  return matched
}

/** The images matching `filterText`, in build order (dependencies first). */
export function matchImagesInOrder(catalog: ImageCatalog, filterText: string): CatalogImage[] {
  const matched = new Set(matchImages(catalog, filterText))
  return imageOrder(catalog).filter((image) => matched.has(image))
}

export interface PlanOptions {
  filter: string
  force?: boolean
  /** The engine's view: `inspectImages(referencesToInspect(...))`. */
  local: LocalImages
}

/** Freshness of one image from its labels against what a build would give now. */
export function freshness(image: CatalogImage, digest: string, baseIds: readonly string[], local: ImageInfo | undefined, staleBase?: string): { upToDate: boolean; reason: string } {
  if (!local) return { upToDate: false, reason: 'not built' }
  const found = local.Config.Labels ?? {}
  if (found[labels.context] === undefined) return { upToDate: false, reason: 'built without casa-distro labels' }
  if (found[labels.context] !== digest) return { upToDate: false, reason: 'files changed' }
  if (staleBase) return { upToDate: false, reason: staleBase }
  if (found[labels.base] !== baseIds.join(',')) return { upToDate: false, reason: 'base image changed' }
  return { upToDate: true, reason: `image ${shortId(local.Id)}` }
}

export const shortId = (id: string): string => id.replace(/^sha256:/, '').slice(0, 12)

/** Contexts and bases of the images, computed once (templates applied, files read and hashed). */
export interface ImageFacts {
  digest: string
  bases: string[]
}

/**
 * An image's bases are the images its Dockerfile reads (FROM, COPY --from) and the images of
 * the definitions it depends on, even those it uses otherwise: any of them changing makes it
 * out of date.
 */
export async function imageFacts(image: CatalogImage, catalog: ImageCatalog): Promise<ImageFacts> {
  const files = await contextFiles(image)
  const dockerfile = files.find((f) => f.path === 'Dockerfile')!
  const bases = baseImages(dockerfile.content?.toString('utf8') ?? '')
  for (const key of image.definition.dependencies) for (const dep of catalog.byKey.get(key)!.images) if (!bases.includes(dep.reference)) bases.push(dep.reference)
  return { digest: contextDigest(files), bases }
}

/**
 * Plan a build of the images matching `filter`. `local` must hold the local images (by
 * reference) of the catalog images and of the bases: `gatherFacts` lists those references.
 */
export async function planBuild(catalog: ImageCatalog, options: PlanOptions, facts: ReadonlyMap<CatalogImage, ImageFacts>): Promise<BuildPlan> {
  const ordered = imageOrder(catalog)
  const selected = new Set(matchImages(catalog, options.filter))
  const byReference = referenceIndex(catalog)
  const dependsOn = (image: CatalogImage) => image.definition.dependencies.flatMap((key) => catalog.byKey.get(key)!.images)
  // Everything the selected images need, transitively.
  const needed = new Set<CatalogImage>()
  const need = (image: CatalogImage): void => {
    if (needed.has(image)) return
    needed.add(image)
    for (const dep of dependsOn(image)) need(dep)
  }
  for (const image of selected) need(image)

  const willBuild = new Set<CatalogImage>()
  const neededBy = new Map<CatalogImage, CatalogImage>()
  for (const image of [...ordered].reverse()) {
    if (!needed.has(image)) continue
    for (const dep of dependsOn(image)) if (!neededBy.has(dep) && (selected.has(image) || neededBy.has(image))) neededBy.set(dep, selected.has(image) ? image : neededBy.get(image)!)
  }
  const items: PlanItem[] = []
  for (const image of ordered) {
    if (!needed.has(image)) continue
    const fact = facts.get(image)!
    const rebuilt = fact.bases.map((b) => byReference.get(b)).find((b) => b && willBuild.has(b))
    const baseIds = fact.bases.map((b) => options.local.get(b)?.Id ?? 'missing')
    const local = options.local.get(image.reference)
    const fresh = freshness(image, fact.digest, baseIds, local, rebuilt && `base ${rebuilt.reference} rebuilt first`)
    const isSelected = selected.has(image)
    let action: PlanAction = fresh.upToDate ? 'up to date' : 'build'
    let reason = fresh.reason
    if (isSelected && options.force && fresh.upToDate) {
      action = 'build'
      reason = 'forced'
    }
    if (!isSelected) {
      if (fresh.upToDate) continue
      reason = `needed by ${neededBy.get(image)?.reference ?? 'a selected image'} (${fresh.reason})`
    }
    if (action === 'build') willBuild.add(image)
    items.push({
      image,
      dependsOn: dependsOn(image).map((d) => d.reference),
      selected: isSelected,
      action,
      reason,
      contextDigest: fact.digest,
      bases: fact.bases,
      ...(local ? { localId: local.Id, localTags: local.RepoTags ?? [] } : {}),
    })
  }
  return { items, filter: options.filter }
}

/** Every tag of every catalog image -> the image (to recognise a FROM naming a catalog image). */
export function referenceIndex(catalog: ImageCatalog): Map<string, CatalogImage> {
  const index = new Map<string, CatalogImage>()
  for (const image of catalog.images) for (const ref of allReferences(image)) index.set(ref, image)
  return index
}

/** Facts of the images a plan may involve (selected and their dependencies) and the references to inspect. */
export async function gatherFacts(catalog: ImageCatalog, images: Iterable<CatalogImage>): Promise<{ facts: Map<CatalogImage, ImageFacts>; references: string[] }> {
  const needed = new Set<CatalogImage>()
  const need = (image: CatalogImage): void => {
    if (needed.has(image)) return
    needed.add(image)
    for (const key of image.definition.dependencies) for (const dep of catalog.byKey.get(key)!.images) need(dep)
  }
  for (const image of images) need(image)
  const list = [...needed]
  const computed = await mapLimited(list, 32, (image) => imageFacts(image, catalog))
  const facts = new Map(list.map((image, i) => [image, computed[i]!]))
  const references = new Set<string>()
  for (const [image, fact] of facts) {
    references.add(image.reference)
    for (const base of fact.bases) references.add(base)
  }
  return { facts, references: [...references] }
}

/**
 * The whole planning step as tasks use it: facts, one batched inspect and, alongside, `pull`
 * with the external FROM images of the definitions without dependencies (create_docker pulls
 * them there, as the original did; it returns the refreshed entries), then the plan.
 */
export async function makePlan(
  catalog: ImageCatalog,
  options: Omit<PlanOptions, 'local'>,
  inspect: (refs: readonly string[]) => Promise<LocalImages>,
  pull?: (rootBases: string[], local: Promise<LocalImages>) => Promise<LocalImages>,
): Promise<BuildPlan> {
  definitionOrder(catalog) // a cycle is reported before anything else
  const selected = matchImages(catalog, options.filter)
  const { facts, references } = await gatherFacts(catalog, selected)
  // The inspect and the pulls run side by side: on a no-op run they are all the docker work.
  const inspected = inspect(references)
  let local: LocalImages
  if (!pull) local = await inspected
  else {
    const catalogImages = referenceIndex(catalog)
    const rootBases = new Set<string>()
    for (const [image, fact] of facts) {
      if (image.definition.dependencies.length === 0) for (const base of fact.bases) if (!catalogImages.has(base)) rootBases.add(base)
    }
    const refreshed = await pull([...rootBases].sort(), inspected)
    local = await inspected
    if (refreshed.size > 0) local = new Map([...local, ...refreshed])
  }
  return planBuild(catalog, { ...options, local }, facts)
}
