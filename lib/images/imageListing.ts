// What list_images shows: each catalog image in build order with its local state, the
// freshness decided exactly as create_docker decides it (labels against context and bases).
import { gatherFacts, definitionOrder, freshness, matchImages, referenceIndex, shortId, type LocalImages } from './buildPlan.js'
import type { ImageCatalog } from './imageCatalog.js'

export interface ImageRow {
  image: string
  tags: string[]
  definition: string
  dependencies: string[]
  visibility: string
  /** Short local image id, or null when not built. */
  localImage: string | null
  /** "up to date", or "out of date (why)", or "not built". */
  state: string
}

export async function imageListing(catalog: ImageCatalog, filter: string, inspect: (refs: readonly string[]) => Promise<LocalImages>): Promise<ImageRow[]> {
  const order = definitionOrder(catalog).flatMap((d) => d.images)
  const matched = new Set(matchImages(catalog, filter))
  const images = order.filter((i) => matched.has(i))
  const { facts, references } = await gatherFacts(catalog, images)
  const local = await inspect(references)
  const catalogImages = referenceIndex(catalog)
  const stale = new Set<string>()
  const rows: ImageRow[] = []
  // Walk every needed image in order so that a stale dependency makes its dependents stale.
  for (const image of order) {
    const fact = facts.get(image)
    if (!fact) continue
    const staleBase = fact.bases.find((b) => catalogImages.has(b) && stale.has(catalogImages.get(b)!.reference))
    const info = local.get(image.reference)
    const fresh = freshness(image, fact.digest, fact.bases.map((b) => local.get(b)?.Id ?? 'missing'), info, staleBase && `base ${staleBase} out of date`)
    if (!fresh.upToDate) stale.add(image.reference)
    if (!matched.has(image)) continue
    rows.push({
      image: image.reference,
      tags: image.tags,
      definition: image.definition.dir,
      dependencies: image.definition.dependencies.flatMap((key) => catalog.byKey.get(key)!.images.map((i) => i.reference)),
      visibility: image.visibility,
      localImage: info ? shortId(info.Id) : null,
      state: !info ? 'not built' : fresh.upToDate ? 'up to date' : `out of date (${fresh.reason})`,
    })
  }
  return rows
}
