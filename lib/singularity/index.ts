/**
 * `casa-distro-admin/singularity`: converting local docker images into Singularity/Apptainer
 * SIF files without root, and publishing them, for tasks (import it inside `run`).
 * @packageDocumentation
 */
export { singularityPlan, type SingularityItem } from './singularityPlan.js'
export { convertSingularityImages } from './singularityCreate.js'
export { singularityDestinations, publishSingularity, type SingularityDestinations } from './singularityPublish.js'
export { signingKey, signFile, verificationKeys, verifyFiles, type SigningOptions } from './singularitySign.js'
