/**
 * `casa-distro-admin/registry`: pushing images to their docker hub (public or private) with
 * digests checked, and pulling them back, for tasks (import it inside `run`).
 * @packageDocumentation
 */
export { selectImages, planPushes, publishImages, updateImages, hubOf, hubReference, type DockerHubs, type PlannedPush, type PushOutcome, type PullOutcome } from '../docker/dockerPublish.js'
