/**
 * `casa-distro-admin/images`: the image catalog and build plans, for tasks (import it inside
 * `run`). The catalog is every image definition on the config's imageSearchPath; a plan says
 * what to build, in dependency order, and why.
 * @packageDocumentation
 */
export { catalogFromConfig, loadCatalog, type ImageCatalog, type CatalogImage, type ImageDefinition, type ShadowedDefinition } from './imageCatalog.js'
export { makePlan, matchImages, matchImagesInOrder, type BuildPlan, type PlanItem, type PlanAction, type PlanOptions } from './buildPlan.js'
export { planTable, planBake } from './planReport.js'
export { imageListing, type ImageRow } from './imageListing.js'
