/**
 * `casa-distro-admin/sif`: reading SIF files (what inspect_singularity shows), for tasks
 * (import it inside `run`).
 * @packageDocumentation
 */
export { apptainerInspect, describeSif } from './sifInspect.js'
