/**
 * `casa-distro-admin/distro`: the casa-distro zip (package, publish) and the build workflows
 * of a workflow repository, for tasks (import it inside `run`).
 * @packageDocumentation
 */
export { writeCasaDistroPackage, packageFileName, type PackageResult } from './casaDistroPackage.js'
export { planCasaDistroPublish, publishCasaDistro, pointerName, type CasaDistroPublishPlan } from './casaDistroPublish.js'
export { findBuildWorkflows, type BuildWorkflow } from './buildWorkflows.js'
