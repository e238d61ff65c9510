/**
 * `casa-distro-admin/docker`: the docker engine and image builds,
 * for tasks (import it inside `run`). Call useDockerEngine(config.docker) first. Pushes and
 * pulls to docker hubs are in `casa-distro-admin/registry` (it loads an HTTP client).
 * Also every name of lib/docker/docker.ts, which older tasks imported as `casa-distro-admin/docker`.
 * @packageDocumentation
 */
export * from './docker.js'
export { executePlan, pullBases, summaryTable, type BuildOptions, type BuildOutcome, type BuildStatus } from './dockerBuild.js'
