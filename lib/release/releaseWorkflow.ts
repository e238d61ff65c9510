// What the release-plan tasks do, end to end: choose the components (filter + decisions),
// inspect them, build or merge the plan, write release_plan.yaml and release_plan.html
// atomically, and publish both to the release-plan hub.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ResolvedConfig } from '../config/config.js'
import type { ReleaseComponent } from '../config/configSchema.js'
import { branchRoles, inspectComponents } from './componentInspection.js'
import { errorMessage, UserError } from '../util/errors.js'
import { imageFilter } from '../images/imageFilter.js'
import { buildPlan, componentState, loadDecisions, loadPlan, mergePlans, planEntries, planFileName, planHtmlName, planToYaml, type ComponentState, type ReleasePlan } from './releasePlan.js'
import { renderPlanHtml, samePlanPage } from './releasePlanHtml.js'
import { redact, withoutCredentials } from '../util/redact.js'
import { openHub } from '../hubs/transport.js'
import { ui } from '../util/ui.js'

/** A filter on component names: comma-separated wildcards matched against `name` or `project/name`. */
export function componentFilter(text: string | undefined): ((project: string, name: string) => boolean) | undefined {
  if (!text) return undefined
  const filter = imageFilter(text, 'components')
  return (project, name) => filter.matches(name) || filter.matches(`${project}/${name}`)
}

/** The configured components the filter selects, minus those the decisions file ignores. */
export async function selectComponents(config: ResolvedConfig, filterText: string | undefined): Promise<ReleaseComponent[]> {
  const all = config.releasePlan.components
  if (all.length === 0) throw new UserError('no release plan components: list them under releasePlan.components in casa.config.ts')
  const filter = componentFilter(filterText)
  const selected = filter ? all.filter((c) => filter(c.project, c.name)) : all
  if (selected.length === 0) throw new UserError(`No component match filter "${filterText}"`)
  const decisions = await loadDecisions(config.repository)
  const ignored = selected.filter((c) => decisions.components.has(c.name) || decisions.projects.has(c.project))
  if (ignored.length) ui.info(`ignored by release_plan_decisions.yaml: ${ignored.map((c) => `${c.project}/${c.name}`).join(', ')}`)
  return selected.filter((c) => !ignored.includes(c))
}

export function countStates(plan: ReleasePlan): Record<ComponentState, number> {
  const counts: Record<ComponentState, number> = { error: 0, warning: 0, todo: 0, nothing: 0 }
  for (const [, , c] of planEntries(plan)) counts[componentState(c)]++
  return counts
}

/**
 * The plan with no credentials in its URLs and messages: entries kept from a plan written
 * before they were left out (update_release_plan) are cleaned too, before it is written.
 */
function withoutSecrets(plan: ReleasePlan): ReleasePlan {
  for (const [, , c] of planEntries(plan)) {
    for (const role of branchRoles) if (typeof c[role]?.vcs_url === 'string') c[role].vcs_url = withoutCredentials(c[role].vcs_url)
    for (const list of ['info_messages', 'warning_messages', 'error_messages'] as const) c[list] = c[list].map((m) => (typeof m === 'string' ? redact(m) : m))
  }
  return plan
}

/** Inspect, plan, and write both plan files; update merges into the existing plan. */
export async function makeReleasePlan(config: ResolvedConfig, options: { components?: string; update: boolean; signal?: AbortSignal }): Promise<{ plan: ReleasePlan; file: string }> {
  const file = join(config.repository, planFileName)
  if (existsSync(config.repository) && !statSync(config.repository).isDirectory()) throw new UserError(`${config.repository}: not a directory (the workflow repository, given by -r or $CASA_DEFAULT_REPOSITORY)`)
  // Read the old plan first: a broken file stops us before any slow inspection.
  const existing = options.update ? await loadPlan(file) : undefined
  if (options.update && !existing) ui.warn(`${file} does not exist: creating it`)
  const components = await selectComponents(config, options.components)
  try {
    mkdirSync(config.repository, { recursive: true })
  } catch (error) {
    throw new UserError(`cannot create the workflow repository ${config.repository}: ${errorMessage(error)}`)
  }
  const inspecting = inspectComponents(components, config.repository, { jobs: config.releasePlan.jobs, signal: options.signal })
  // the YAML library loaded while the inspection waits on the network, not after it
  import('yaml').catch(() => undefined)
  const { inspections, closed } = await inspecting
  try {
    const plan = withoutSecrets(existing ? mergePlans(existing, buildPlan(inspections)) : buildPlan(inspections))
    await writePlanFiles(config.repository, file, plan)
    return { plan, file }
  } finally {
    await closed
  }
}

/**
 * Write release_plan.yaml and its page. Files whose content would not change are left as they
 * are: the page's "Generated" time then says when the plan last changed, and
 * publish_release_plan has nothing to upload.
 */
async function writePlanFiles(repository: string, file: string, plan: ReleasePlan): Promise<void> {
  const yaml = await planToYaml(plan)
  const html = renderPlanHtml(plan)
  const htmlFile = join(repository, planHtmlName)
  const oldHtml = readIfExists(htmlFile)
  const changed = [
    ...(readIfExists(file) !== yaml ? [{ file, text: yaml }] : []),
    ...(oldHtml === undefined || !samePlanPage(oldHtml, html) ? [{ file: htmlFile, text: html }] : []),
  ]
  writeTogether(changed)
}

/**
 * Write files so that they change together or not at all: every one is written under a
 * temporary name first (a failure removes them all and leaves the old files), then all are
 * renamed into place, so the YAML and its page never disagree.
 */
function writeTogether(files: { file: string; text: string }[]): void {
  const temporaries: string[] = []
  const removeTemporaries = () => temporaries.forEach((t) => rmSync(t, { force: true }))
  for (const { file, text } of files) {
    try {
      // a rename onto a directory would fail after the other file was replaced
      if (existsSync(file) && !statSync(file).isFile()) throw new Error('not a regular file')
      const temporary = `${file}.tmp-${process.pid}`
      temporaries.push(temporary)
      writeFileSync(temporary, text)
    } catch (error) {
      removeTemporaries()
      throw new UserError(`cannot write ${file}: ${errorMessage(error)}`)
    }
  }
  files.forEach(({ file }, i) => renameSync(temporaries[i]!, file))
}

/**
 * Upload release_plan.yaml and release_plan.html to hubs.releasePlan.upload, each atomically,
 * unless the hub already holds the same bytes. Returns the names uploaded.
 */
export async function publishReleasePlan(config: ResolvedConfig): Promise<string[]> {
  const files = [planFileName, planHtmlName].map((name) => join(config.repository, name))
  for (const f of files) if (!existsSync(f)) throw new UserError(`${f} does not exist: run create_release_plan first`)
  await loadPlan(files[0]!) // never publish a broken plan
  const url = config.hubs.releasePlan.upload
  const hub = await openHub(url, config.ssh)
  const uploaded: string[] = []
  try {
    // the page first: the YAML it describes is never newer on the hub than the page
    for (const name of [planHtmlName, planFileName]) {
      const local = readFileSync(join(config.repository, name), 'utf8')
      // plan files are small: comparing their bytes costs one download, no remote command
      if ((await hub.readText(name)) === local) continue
      await ui.step(`upload ${name} to ${url}`, () => hub.putText(local, name))
      uploaded.push(name)
    }
  } finally {
    await hub.close()
  }
  return uploaded
}

function readIfExists(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
}
