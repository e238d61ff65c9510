/**
 * `casa-distro-admin/hubs`: the directories tasks publish to (sftp:// or file://), every write
 * atomic (a temporary name, renamed into place), and mirroring a local tree to a hub under a
 * lock, for tasks (import it inside `run`).
 * @packageDocumentation
 */
export { openHub, formatBytes, type Hub, type HubEntry, type ListOptions, type PutOptions, type SshOptions } from './transport.js'
export { localTree, planMirror, applyMirror, type LocalEntry, type MirrorPlan, type MirrorResult, type MirrorOptions, type MirrorUpload } from './mirror.js'
export { lockMirror, MIRROR_LOCK, type MirrorLockOptions, type Unlock } from './mirrorLock.js'
export { publishInTurn, hubNotOpened, type InTurnOptions } from './publishInTurn.js'
