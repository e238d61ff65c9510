// The checks of a release plan read from release_plan.yaml, which people edit by hand: every
// field apply_release_plan uses is checked when the plan is loaded (strings present, ref
// names git accepts, actions known and complete), so a mistake is one line naming the
// component and the field before anything is pushed, instead of a crash or a half-applied
// release.
import { branchRoles } from './componentInspection.js'
import { kindOf, parseVersion } from './componentVersion.js'
import { gitUrlProblem } from '../config/configSchema.js'
import { refNameProblem } from '../git/gitRefName.js'
import { didYouMean } from '../util/suggest.js'

/** Each action and the kinds of its arguments after the name. */
const actionArguments = {
  set_version: ['role', 'version'],
  copy: ['target', 'target'],
  rename: ['target', 'target'],
  delete: ['target'],
} as const
export const actionNames = Object.keys(actionArguments)

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isRevision = (v: unknown) => typeof v === 'string' && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(v)
const show = (v: unknown) => (typeof v === 'string' ? `"${v}"` : JSON.stringify(v) ?? String(v))

/** What is wrong with a branch or tag name, as a phrase, or undefined. */
function refProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `expected a branch or tag name, got ${show(name)}`
  const problem = refNameProblem(name)
  return problem && `${show(name)} is not a valid git ref name (${problem})`
}

function targetProblem(target: unknown): string | undefined {
  if (typeof target !== 'string') return `expected a target, got ${show(target)}`
  if (target.startsWith('tags/')) return refProblem(target.slice(5))
  if (!(branchRoles as readonly string[]).includes(target)) return `unknown target ${show(target)} (expected ${branchRoles.join(', ')} or tags/<version>)${didYouMean(target, branchRoles)}`
  return undefined
}

function actionProblem(c: Record<string, unknown>, action: unknown): string | undefined {
  if (!Array.isArray(action) || typeof action[0] !== 'string') return `expected an action like [copy, bug_fix, release_candidate], got ${show(action)}`
  const name = action[0]
  if (!(name in actionArguments)) return `unknown action "${name}" (expected ${actionNames.join(', ')})${didYouMean(name, actionNames)}`
  const kinds = actionArguments[name as keyof typeof actionArguments]
  if (action.length !== kinds.length + 1) return `${name} takes ${kinds.length} argument${kinds.length > 1 ? 's' : ''} (${kinds.join(', ')}), got ${action.length - 1}`
  for (const [i, kind] of kinds.entries()) {
    const arg: unknown = action[i + 1]
    const problem =
      kind === 'target' ? targetProblem(arg) : kind === 'role' ? (typeof arg === 'string' && (branchRoles as readonly string[]).includes(arg) ? undefined : `expected a branch role (${branchRoles.join(', ')}), got ${show(arg)}`) : typeof arg === 'string' && parseVersion(arg) ? undefined : `expected a version major.minor.patch, got ${show(arg)}`
    if (problem) return `${name}: ${problem}`
  }
  if (name === 'set_version') {
    const branch = c[action[1] as string] as Record<string, unknown>
    const bugFix = c.bug_fix as Record<string, unknown>
    const file = branch.version_file ?? bugFix.version_file
    if (typeof file !== 'string' || !kindOf(file)) return `set_version: no version file (version_file) to write the version into`
  }
  return undefined
}

/**
 * What is wrong with one component's entry, as `field: problem`, or undefined.
 * Fields are checked in the order apply uses them.
 */
export function planEntryProblem(c: unknown): string | undefined {
  if (!isObject(c)) return 'not a release plan entry (branches, messages and todo expected)'
  const branches = new Map<string, string>()
  for (const role of branchRoles) {
    const b = c[role]
    if (!isObject(b)) return `${role}: expected vcs_url, branch, revision and version`
    if (typeof b.vcs_url !== 'string' || !b.vcs_url) return `${role}.vcs_url: expected a git URL, got ${show(b.vcs_url)}`
    const urlProblem = gitUrlProblem(b.vcs_url)
    if (urlProblem) return `${role}.vcs_url: ${urlProblem}`
    const problem = refProblem(b.branch)
    if (problem) return `${role}.branch: ${problem}`
    // Two roles on one branch would make a release delete the branch it just made.
    const other = branches.get(b.branch as string)
    if (other) return `${role}.branch: "${b.branch}" is also ${other}'s branch`
    branches.set(b.branch as string, role)
    if (b.revision !== null && !isRevision(b.revision)) return `${role}.revision: expected a commit id or null, got ${show(b.revision)}`
    if (b.version !== null && typeof b.version !== 'string') return `${role}.version: expected a version or null, got ${show(b.version)}`
    if (b.version_file !== undefined && typeof b.version_file !== 'string') return `${role}.version_file: expected a path, got ${show(b.version_file)}`
  }
  if (c.version_tags !== undefined) {
    if (!isObject(c.version_tags)) return `version_tags: expected a mapping of tag to commit id`
    for (const [tag, commit] of Object.entries(c.version_tags)) {
      const problem = refProblem(tag) ?? (isRevision(commit) ? undefined : `expected a commit id, got ${show(commit)}`)
      if (problem) return `version_tags.${tag}: ${problem}`
    }
  }
  for (const key of ['info_messages', 'warning_messages', 'error_messages']) {
    if (!Array.isArray(c[key]) || (c[key] as unknown[]).some((m) => typeof m !== 'string')) return `${key}: expected a list of messages`
  }
  if (!isObject(c.todo)) return 'todo: expected release_candidate and latest_release action lists'
  for (const list of ['release_candidate', 'latest_release']) {
    const actions = c.todo[list]
    if (!Array.isArray(actions)) return `todo.${list}: expected a list of actions`
    for (const [i, action] of actions.entries()) {
      const problem = actionProblem(c, action)
      if (problem) return `todo.${list}[${i}]: ${problem}`
    }
  }
  return undefined
}
