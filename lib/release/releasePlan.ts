// The release plan: from inspected components to the original's plan structure (per project
// and component: the three branches with url, revision and version, info/warning/error
// messages, and the `todo` action lists), following the original's version rules; the
// decisions file; merging for update_release_plan; reading and writing the plan file.
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { branchRoles, type BranchRole, type ComponentInspection } from './componentInspection.js'
import { compareVersions, formatVersion, parseVersion } from './componentVersion.js'
import { UserError } from '../util/errors.js'
import { planEntryProblem } from './releasePlanCheck.js'
import { didYouMean } from '../util/suggest.js'
import { redact, withoutCredentials } from '../util/redact.js'

export const planFileName = 'release_plan.yaml'
export const planHtmlName = 'release_plan.html'
export const decisionsFileName = 'release_plan_decisions.yaml'

/** A branch role (`bug_fix`, ...) or a version tag written `tags/<version>`, as in the original. */
export type Target = BranchRole | `tags/${string}`
export type Action = ['set_version', BranchRole, string] | ['copy', Target, Target] | ['rename', Target, Target] | ['delete', Target]

export interface PlanBranch {
  vcs_url: string
  branch: string
  /** null when the branch does not exist. */
  revision: string | null
  version: string | null
  version_file?: string
}

export interface ComponentPlan {
  bug_fix: PlanBranch
  release_candidate: PlanBranch
  latest_release: PlanBranch
  version_tags: Record<string, string>
  /** The version the release will carry, when there is one to make. */
  next_version?: string
  info_messages: string[]
  warning_messages: string[]
  error_messages: string[]
  todo: { release_candidate: Action[]; latest_release: Action[] }
}

/** project -> component -> plan, the layout of release_plan.yaml. */
export type ReleasePlan = Record<string, Record<string, ComponentPlan>>

export type ComponentState = 'error' | 'warning' | 'todo' | 'nothing'

const short = (revision: string | null | undefined) => (revision ? revision.slice(0, 10) : 'absent')
const tagFor = (tags: Record<string, string>, version: string) => (version in tags ? version : `v${version}` in tags ? `v${version}` : undefined)

/** The plan of one component, by the original's rules. */
export function planComponent(inspection: ComponentInspection): ComponentPlan {
  // The plan is written and uploaded: no credentials in it (apply_release_plan takes them back from the config).
  const url = withoutCredentials(inspection.component.url)
  const branch = (role: BranchRole): PlanBranch => {
    const b = inspection.branches[role]
    return { vcs_url: url, branch: b.branch, revision: b.revision ?? null, version: b.version ?? null, ...(b.versionFile ? { version_file: b.versionFile } : {}) }
  }
  const plan: ComponentPlan = {
    bug_fix: branch('bug_fix'),
    release_candidate: branch('release_candidate'),
    latest_release: branch('latest_release'),
    version_tags: inspection.versionTags,
    info_messages: [],
    warning_messages: [],
    error_messages: [],
    todo: { release_candidate: [], latest_release: [] },
  }
  if (inspection.error) {
    plan.error_messages.push(redact(inspection.error))
    return plan
  }
  const { bug_fix: bf, release_candidate: rc, latest_release: lr } = inspection.branches
  if (!bf.revision) {
    plan.error_messages.push(`bug_fix branch ${bf.branch} does not exist`)
    return plan
  }
  for (const role of branchRoles) {
    const b = inspection.branches[role]
    if (b.revision && b.versionError) (role === 'release_candidate' ? plan.warning_messages : plan.error_messages).push(`${role} (${b.branch}): ${b.versionError}`)
  }
  if (plan.error_messages.length) return plan
  const bugFixVersion = parseVersion(bf.version!)!
  if (lr.revision && lr.revision === bf.revision) {
    plan.info_messages.push(`latest_release is at the bug_fix revision ${short(bf.revision)} (version ${bf.version}): nothing to do`)
    return plan
  }
  const latestVersion = lr.revision ? parseVersion(lr.version!)! : undefined
  if (latestVersion && compareVersions(latestVersion, bugFixVersion) > 0) {
    plan.error_messages.push(`latest_release version ${lr.version} is higher than bug_fix version ${bf.version}`)
    return plan
  }
  const next = latestVersion && compareVersions(latestVersion, bugFixVersion) === 0 ? { ...latestVersion, patch: latestVersion.patch + 1 } : bugFixVersion
  const nextText = formatVersion(next)
  plan.next_version = nextText
  plan.info_messages.push(`release ${nextText}: bug_fix ${bf.version} (${short(bf.revision)}) becomes latest_release (was ${lr.revision ? `${lr.version} (${short(lr.revision)})` : 'absent'})`)

  if (nextText !== bf.version) plan.todo.release_candidate.push(['set_version', 'bug_fix', nextText])
  plan.todo.release_candidate.push(['copy', 'bug_fix', 'release_candidate'])
  if (rc.revision) plan.warning_messages.push(`release_candidate branch ${rc.branch} exists (${rc.version ?? 'no version'}, ${short(rc.revision)}) and will be replaced`)
  const nextTag = tagFor(inspection.versionTags, nextText)
  if (nextTag) plan.warning_messages.push(`tag ${nextTag} already exists (${short(inspection.versionTags[nextTag])})`)

  if (lr.revision) {
    const oldTag = tagFor(inspection.versionTags, lr.version!)
    if (oldTag) {
      if (inspection.versionTags[oldTag] !== lr.revision) plan.warning_messages.push(`tag ${oldTag} is not at latest_release's revision ${short(lr.revision)}, which will be deleted`)
      plan.todo.latest_release.push(['delete', 'latest_release'])
    } else {
      plan.todo.latest_release.push(['rename', 'latest_release', `tags/${lr.version}`])
    }
  }
  plan.todo.latest_release.push(['rename', 'release_candidate', 'latest_release'])
  return plan
}

export function buildPlan(inspections: readonly ComponentInspection[]): ReleasePlan {
  const plan: ReleasePlan = {}
  for (const inspection of inspections) (plan[inspection.component.project] ??= {})[inspection.component.name] = planComponent(inspection)
  return plan
}

export function componentState(c: ComponentPlan): ComponentState {
  if (c.error_messages.length) return 'error'
  if (c.warning_messages.length) return 'warning'
  if (c.todo.release_candidate.length + c.todo.latest_release.length) return 'todo'
  return 'nothing'
}

/** Every component of a plan, as [project, name, plan], in file order. */
export function planEntries(plan: ReleasePlan): [string, string, ComponentPlan][] {
  return Object.entries(plan).flatMap(([project, components]) => Object.entries(components).map(([name, c]) => [project, name, c] as [string, string, ComponentPlan]))
}

/**
 * update_release_plan: the inspected components replace their entries, the others stay.
 * Component names are unique: an entry of the same name under another project is the
 * component before it moved, and is dropped (apply would release it twice otherwise).
 */
export function mergePlans(existing: ReleasePlan, fresh: ReleasePlan): ReleasePlan {
  const merged: ReleasePlan = structuredClone(existing)
  for (const [project, name, c] of planEntries(fresh)) {
    for (const [other, components] of Object.entries(merged)) {
      if (other === project || !(name in components)) continue
      delete components[name]
      if (Object.keys(components).length === 0) delete merged[other]
    }
    ;(merged[project] ??= {})[name] = c
  }
  return merged
}

export interface Decisions {
  components: Set<string>
  projects: Set<string>
}

/** The parsed content of a YAML file; a syntax error is one line naming the file. */
async function readYamlFile(file: string): Promise<unknown> {
  const { parseDocument } = await import('yaml')
  const { checkYamlSize, duplicateKey, yamlParseOptions } = await import('../util/yamlBounds.js')
  const text = readFileSync(file, 'utf8')
  checkYamlSize(text, file)
  try {
    const doc = parseDocument(text, yamlParseOptions)
    if (doc.errors[0]) throw doc.errors[0]
    const twice = duplicateKey(doc)
    if (twice) throw new Error(`Map keys must be unique ("${twice.key}" appears twice)`)
    return doc.toJS()
  } catch (error) {
    throw new UserError(`${file}: not valid YAML (${(error as Error).message.split('\n')[0]})`)
  }
}

/** release_plan_decisions.yaml: `ignore: {component: [...], project: [...]}`; absent means none. */
export async function loadDecisions(repository: string): Promise<Decisions> {
  const file = join(repository, decisionsFileName)
  const decisions: Decisions = { components: new Set(), projects: new Set() }
  if (!existsSync(file)) return decisions
  const data = await readYamlFile(file)
  if (data === null || data === undefined) return decisions
  const ignore = (data as { ignore?: unknown }).ignore
  const bad = () => new UserError(`${file}: expected "ignore: {component: [names], project: [names]}"`)
  if (typeof data !== 'object' || Array.isArray(data)) throw bad()
  // a misspelled key would silently ignore nothing
  const unknownTop = Object.keys(data).find((k) => k !== 'ignore')
  if (unknownTop !== undefined) throw new UserError(`${file}: unknown key ${unknownTop}${didYouMean(unknownTop, ['ignore']) || ' (expected ignore)'}`)
  if (ignore === undefined || ignore === null) return decisions
  if (typeof ignore !== 'object' || Array.isArray(ignore)) throw bad()
  for (const [key, set] of [['component', decisions.components], ['project', decisions.projects]] as const) {
    const list = (ignore as Record<string, unknown>)[key] ?? []
    if (!Array.isArray(list) || list.some((v) => typeof v !== 'string')) throw bad()
    for (const v of list as string[]) set.add(v)
  }
  const unknown = Object.keys(ignore).filter((k) => k !== 'component' && k !== 'project')
  if (unknown.length) throw new UserError(`${file}: unknown key ignore.${unknown[0]}${didYouMean(unknown[0]!, ['component', 'project']) || ' (expected component or project)'}`)
  return decisions
}

/** Read release_plan.yaml (or undefined when absent), checking every field apply uses (see releasePlanCheck). */
export async function loadPlan(file: string): Promise<ReleasePlan | undefined> {
  if (!existsSync(file)) return undefined
  const data = await readYamlFile(file)
  if (data === null || data === undefined) return {}
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
  if (!isObject(data)) throw new UserError(`${file}: expected projects mapping to components`)
  for (const [project, components] of Object.entries(data)) {
    if (!isObject(components)) throw new UserError(`${file}: ${project}: expected components`)
    for (const [name, c] of Object.entries(components)) {
      const problem = planEntryProblem(c)
      if (problem) throw new UserError(`${file}: ${project}/${name}: ${problem}`)
    }
  }
  return data as ReleasePlan
}

export async function planToYaml(plan: ReleasePlan): Promise<string> {
  const { Document, visit, isScalar, isSeq } = await import('yaml')
  const doc = new Document(plan)
  // Actions stay on one line each ([copy, bug_fix, release_candidate]), as in the original's files.
  const actionNames = new Set(['set_version', 'copy', 'rename', 'delete'])
  visit(doc, {
    Seq(_key, node) {
      const first = node.items[0]
      if (isSeq(node) && isScalar(first) && actionNames.has(String(first.value)) && node.items.every(isScalar)) node.flow = true
    },
  })
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false })
}
