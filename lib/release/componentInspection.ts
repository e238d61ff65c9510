// Inspecting release-plan components with real git: refresh each component's bare mirror,
// then read the revision and version of its three branches and its version tags. Components
// are inspected a few at a time, one progress line each; a component that cannot be read
// carries its error and the others go on.
import { defaultBranches, type ReleaseComponent } from '../config/configSchema.js'
import { parseVersion } from './componentVersion.js'
import { errorMessage, LocalPathError } from '../util/errors.js'
import { NotInstalledError } from '../util/exec.js'
import { gitEnv, mirrorPath, openMirror } from '../git/gitMirror.js'
import { GitShellPool } from '../git/gitShell.js'
import { shareSshConnections } from '../git/sshSharing.js'
import { mapLimited } from '../util/mapLimited.js'
import type { Slots } from '../util/slots.js'
import { revisionVersions } from './versionCache.js'
import { redact } from '../util/redact.js'
import { type StepOutcome, ui } from '../util/ui.js'

export const branchRoles = ['bug_fix', 'release_candidate', 'latest_release'] as const
export type BranchRole = (typeof branchRoles)[number]

export interface BranchInspection {
  /** The git branch playing this role. */
  branch: string
  /** Absent when the branch does not exist. */
  revision?: string
  version?: string
  versionFile?: string
  /** Why the version could not be read. */
  versionError?: string
}

export interface ComponentInspection {
  component: ReleaseComponent
  /** Set when the repository could not be read at all. */
  error?: string
  branches: Record<BranchRole, BranchInspection>
  /** Version-like tags (`5.0.2`, `v5.0.2`) -> commit. */
  versionTags: Record<string, string>
}

export function branchNames(component: ReleaseComponent): Record<BranchRole, string> {
  // The defaults come from the config schema, which checks the three roles differ with them.
  return {
    bug_fix: component.bugFix ?? defaultBranches.bugFix,
    release_candidate: component.releaseCandidate ?? defaultBranches.releaseCandidate,
    latest_release: component.latestRelease ?? defaultBranches.latestRelease,
  }
}

/** Inspect one component through its mirror under `repository`. Never throws for git trouble. */
export async function inspectComponent(component: ReleaseComponent, repository: string, options: { signal?: AbortSignal; pool?: GitShellPool; sessions?: Slots } = {}): Promise<ComponentInspection> {
  const { signal } = options
  const names = branchNames(component)
  const result: ComponentInspection = {
    component,
    branches: { bug_fix: { branch: names.bug_fix }, release_candidate: { branch: names.release_candidate }, latest_release: { branch: names.latest_release } },
    versionTags: {},
  }
  const mirror = mirrorPath(repository, component.project, component.name)
  let opened: Awaited<ReturnType<typeof openMirror>>
  try {
    opened = await openMirror(mirror, component.url, options)
  } catch (error) {
    // git missing or an unwritable cache fails every component alike: one line for the run, not one per component
    if (signal?.aborted || error instanceof NotInstalledError || error instanceof LocalPathError) throw error
    // Printed and written into the plan: the URL's credentials and git's words about them masked.
    result.error = redact(`cannot read ${component.url}: ${errorMessage(error)}`)
    return result
  }
  const { refs, session } = opened
  for (const [tag, commit] of refs.tags) if (parseVersion(tag)) result.versionTags[tag] = commit
  for (const role of branchRoles) result.branches[role].revision = refs.branches.get(result.branches[role].branch)
  // Branches at the same revision share one read (and one git process reads them all).
  const revisions = branchRoles.flatMap((role) => result.branches[role].revision ?? [])
  let versions
  try {
    versions = await revisionVersions(mirror, revisions, component.versionFile, () => session.objects())
  } finally {
    await session.close()
  }
  signal?.throwIfAborted()
  for (const role of branchRoles) {
    const entry = result.branches[role]
    if (entry.revision) Object.assign(entry, versions.get(entry.revision))
    else delete entry.revision
  }
  return result
}

function summary(i: ComponentInspection): StepOutcome {
  const name = `${i.component.project}/${i.component.name}`
  if (i.error) return { text: `${name}: ${redact(i.error)}`, failed: true }
  const parts = branchRoles.map((role) => {
    const b = i.branches[role]
    return `${role} ${b.revision ? (b.version ?? 'no version') : 'absent'}`
  })
  return { text: `${name}: ${parts.join(', ')}`, failed: false }
}

/**
 * Inspect components concurrently (bounded), one progress line per component; one shell per
 * job runs their git commands. The shared SSH connections are closed meanwhile: `closed`
 * settles once they are, so that the caller writes the plan in that time.
 */
export async function inspectComponents(
  components: readonly ReleaseComponent[],
  repository: string,
  options: { jobs: number; signal?: AbortSignal },
): Promise<{ inspections: ComponentInspection[]; closed: Promise<void> }> {
  // one SSH connection per host for all the components (see lib/git/sshSharing)
  const sharing = await shareSshConnections(
    components.map((c) => c.url),
    gitEnv(),
  )
  const pool = new GitShellPool(options.jobs, sharing.env, options.signal)
  let inspections: ComponentInspection[]
  try {
    // the shells started while the SSH handshakes go on (a fork of node each: 20 ms on a loaded machine)
    pool.prestart(Math.min(options.jobs, components.length))
    await sharing.connected
    inspections = await mapLimited(components, options.jobs, (component) =>
      ui.step(`inspect ${component.project}/${component.name}`, () => inspectComponent(component, repository, { signal: options.signal, pool, sessions: sharing.sessions(component.url) }), summary),
    )
  } catch (error) {
    await closeAll()
    throw error
  }
  const closed = closeAll()
  closed.catch(() => undefined) // failing before the caller awaits it is no unhandled rejection
  return { inspections, closed }

  async function closeAll(): Promise<void> {
    try {
      await pool.close()
    } finally {
      await sharing.close()
    }
  }
}
