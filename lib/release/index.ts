/**
 * `casa-distro-admin/release`: release plans of the git components (inspect, write, merge,
 * publish, apply), for tasks (import it inside `run`).
 * @packageDocumentation
 */
export { makeReleasePlan, publishReleasePlan, componentFilter, selectComponents, countStates } from './releaseWorkflow.js'
export { loadPlan, planEntries, planFileName, planHtmlName, type ReleasePlan, type ComponentPlan, type ComponentState } from './releasePlan.js'
export { applyPlan, formatAction, type ApplyOptions, type ApplyReport } from './releaseApply.js'
