// Applying a release plan: check it is safe (no errors, no warnings unless told, an info
// message), then run each component's actions in order as git operations on its remote.
// Every push is guarded: the target must still be where the plan (or the previous action)
// left it, checked with ls-remote and enforced by --force-with-lease, so other people's
// pushes are never overwritten. Each action done is appended to a journal; a re-run skips
// what the journal shows as done and goes on from the action that failed.
import { createHash } from 'node:crypto'
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { branchRoles, type BranchRole } from './componentInspection.js'
import type { ReleaseComponent } from '../config/configSchema.js'
import { kindOf, parseVersion, writeVersion } from './componentVersion.js'
import { errorMessage, isUserError, UserError } from '../util/errors.js'
import { CommandError, run } from '../util/exec.js'
import { credentialArgs, gitRemote, type GitRemote } from '../git/gitCredentials.js'
import { gitEnv, mirrorPath, updateMirror } from '../git/gitMirror.js'
import { onInterrupt } from '../util/interrupt.js'
import { redact, withoutCredentials } from '../util/redact.js'
import { componentState, planEntries, type Action, type ComponentPlan, type ReleasePlan, type Target } from './releasePlan.js'
import { ui } from '../util/ui.js'

export const journalFileName = 'release_plan_journal.jsonl'
const lists = ['release_candidate', 'latest_release'] as const
type ListName = (typeof lists)[number]

interface JournalEntry {
  key: string
  component: string
  list: ListName
  index: number
  action: Action
  /** Where the component's refs are after the action (refname -> commit or null). */
  refs: Record<string, string | null>
  at: string
}

export interface ApplyOptions {
  repository: string
  plan: ReleasePlan
  /** Only these components (names), when given. */
  only?: (project: string, name: string) => boolean
  dry: boolean
  ignoreWarning: boolean
  /** The config's components: their URLs carry the credentials the plan's URLs leave out. */
  components?: readonly ReleaseComponent[]
  signal?: AbortSignal
}

export interface ApplyReport {
  done: number
  skipped: number
  components: number
}

/** A stable key for one component's plan: journal entries of another plan never match. */
const planKey = (project: string, name: string, c: ComponentPlan) => createHash('sha256').update(JSON.stringify([project, name, c.bug_fix, c.release_candidate, c.latest_release, c.todo])).digest('hex').slice(0, 16)

function refName(c: ComponentPlan, target: Target): string {
  if (target.startsWith('tags/')) return `refs/${target}`
  if (!(branchRoles as readonly string[]).includes(target)) throw new UserError(`unknown action target "${target}"`)
  return `refs/heads/${c[target as BranchRole].branch}`
}

const describe = (c: ComponentPlan, target: Target) => (target.startsWith('tags/') ? `tag ${target.slice(5)}` : `${target} (${c[target as BranchRole].branch})`)

export function formatAction(c: ComponentPlan, action: Action): string {
  switch (action[0]) {
    case 'set_version':
      return `set_version ${describe(c, action[1])} to ${action[2]}`
    case 'copy':
    case 'rename':
      return `${action[0]} ${describe(c, action[1])} to ${describe(c, action[2])}`
    case 'delete':
      return `delete ${describe(c, action[1])}`
    default: // loadPlan refuses unknown actions; a plan built in code could still hold one
      throw new UserError(`unknown action ${JSON.stringify(action)}`)
  }
}

const isJournalEntry = (v: unknown): v is JournalEntry => {
  const e = v as JournalEntry
  return typeof v === 'object' && v !== null && typeof e.key === 'string' && (lists as readonly unknown[]).includes(e.list) && Number.isInteger(e.index) && typeof e.refs === 'object' && e.refs !== null
}

function readJournal(file: string): JournalEntry[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((line, i) => {
      if (!line.trim()) return []
      let entry: unknown
      try {
        entry = JSON.parse(line)
      } catch {
        return [] // a line cut by a crash: that action is redone, guarded like any other
      }
      // anything else was written by someone else: acting on it could skip an action
      if (!isJournalEntry(entry)) throw new UserError(`${file}:${i + 1}: not a journal entry (expected key, list, index and refs); fix or remove that line`)
      return [entry]
    })
}

/**
 * The URL to push to: the plan's URLs have no credentials (see lib/util/redact.ts), so the config's
 * URL of the same component is taken when it is the plan's URL once its credentials are left
 * out; otherwise the plan's URL as it is (git's credential helpers still apply).
 */
export function remoteUrl(project: string, name: string, planUrl: string, components: readonly ReleaseComponent[] = []): string {
  const configured = components.find((c) => c.project === project && c.name === name) ?? components.find((c) => c.name === name)
  return configured && withoutCredentials(configured.url) === withoutCredentials(planUrl) ? configured.url : planUrl
}

/** Refuse the plan's unsafe components, naming them all. */
export function checkApplicable(plan: ReleasePlan, options: Pick<ApplyOptions, 'only' | 'ignoreWarning'>): void {
  const problems: string[] = []
  for (const [project, name, c] of planEntries(plan)) {
    if (options.only && !options.only(project, name)) continue
    const actions = c.todo.release_candidate.length + c.todo.latest_release.length
    if (!actions) continue
    if (c.error_messages.length) problems.push(`${project}/${name} has errors (${c.error_messages[0]})`)
    else if (c.warning_messages.length && !options.ignoreWarning) problems.push(`${project}/${name} has warnings (${c.warning_messages[0]}; ignore_warning=1 to go on)`)
    else if (!c.info_messages.length) problems.push(`${project}/${name} has no info message`)
  }
  if (problems.length) throw new UserError(`refusing to apply the release plan: ${problems.join('; ')}`)
}

class Remote {
  /** The URL as git is given it, and its credentials, kept out of git's command line (lib/git/gitCredentials). */
  private readonly git: GitRemote

  constructor(
    readonly url: string,
    readonly mirror: string,
    readonly label: string,
    readonly signal?: AbortSignal,
  ) {
    this.git = gitRemote(url)
  }

  /** `git <auth options> ...args` with the credentials in its environment only. */
  private async runGit(args: readonly string[], options: { allowFailure?: boolean } = {}) {
    const auth = credentialArgs(this.git)
    try {
      return await run('git', [...auth.options, ...args], { env: { ...gitEnv(), ...auth.env }, signal: this.signal, ...options })
    } catch (e) {
      // git names the remote in some of its errors only ("expected flush after ref listing"
      // does not): the line says which component and which server, whatever git said.
      if (!(e instanceof CommandError)) throw e
      const server = redact(this.url)
      throw new UserError(`${this.label}: ${e.message.includes(server) ? e.message : `${e.message} (${server})`}`)
    }
  }

  /**
   * Where `ref` is on the remote, null when absent. Absent is asked twice: a connection cut
   * at the wrong moment can leave git reading an empty listing as a whole one (exit 0, no
   * ref), which would read as someone else's push, or as a deletion already done.
   */
  async current(ref: string): Promise<string | null> {
    const read = async () => {
      const { stdout } = await this.runGit(['ls-remote', this.git.url, ref])
      const line = stdout.split('\n').find((l) => l.endsWith(`\t${ref}`))
      return line ? line.split('\t')[0]! : null
    }
    return (await read()) ?? read()
  }

  /** Stop when `ref` is not where we expect it: someone pushed since the plan was made. */
  async expect(ref: string, expected: string | null, now?: string | null): Promise<void> {
    if (now === undefined) now = await this.current(ref)
    if (now !== expected) {
      throw new UserError(`${this.label}: ${ref} ${expected ? `was expected at ${expected.slice(0, 10)}` : 'was expected absent'} but is ${now ? `at ${now.slice(0, 10)}` : 'absent'}: someone pushed since the plan was made; nothing was forced (run update_release_plan, then apply again)`)
    }
  }

  /** Push `source` (a commit, or '' to delete) to `ref`, only if `ref` is still at `expected`. */
  async push(source: string, ref: string, expected: string | null): Promise<void> {
    return this.pushAll([{ source, ref, expected }])
  }

  /**
   * Push every update in one `git push --atomic`, each under its lease: the remote takes them
   * all or none (a rename never leaves its copy made and its source kept, nor the reverse,
   * when someone pushes in between). Updates already where they go are skipped: pushed by a
   * run that stopped before journaling them, so a re-run goes on from there.
   */
  async pushAll(updates: readonly { source: string; ref: string; expected: string | null }[]): Promise<void> {
    const todo: { source: string; ref: string; expected: string | null }[] = []
    for (const update of updates) {
      const now = await this.current(update.ref)
      if (now === (update.source || null)) continue
      await this.expect(update.ref, update.expected, now)
      todo.push(update)
    }
    if (todo.length === 0) return
    const leases = todo.flatMap(({ ref, expected }) => (ref.startsWith('refs/tags/') && expected === null ? [] : [`--force-with-lease=${ref}:${expected ?? ''}`]))
    const atomic = todo.length > 1 ? ['--atomic'] : []
    const refs = todo.map((u) => u.ref).join(' and ')
    const result = await this.runGit(['-C', this.mirror, 'push', '--quiet', ...atomic, ...leases, this.git.url, ...todo.map(({ source, ref }) => `${source}:${ref}`)], { allowFailure: true })
    if (result.exitCode !== 0) {
      if (/stale info|fetch first|non-fast-forward|already exists/.test(result.stderr)) throw new UserError(`${this.label}: ${refs} moved while pushing: someone pushed in between; nothing was forced${todo.length > 1 ? ' nor changed (one atomic push)' : ''}`)
      // The remote's own reason (a hook's message, a rejected ref) says more than git's summary.
      const lines = result.stderr.split('\n').map((l) => l.trim()).filter(Boolean)
      // Then git's own first error, not its closing summary ("failed to push some refs"): it
      // says why ("bad object ...", "src refspec ... does not match any") where the rejected
      // ref's line only says "unpacker error".
      const cause = lines.find((l) => /^(error|fatal): /.test(l) && !/failed to push some refs/.test(l))
      const reason = lines.find((l) => /^remote: \S/.test(l)) ?? cause ?? lines.find((l) => l.startsWith('! [')) ?? lines.at(-1) ?? `exit ${result.exitCode}`
      throw new UserError(redact(`${this.label}: git push ${refs} to ${this.url} failed: ${reason}`))
    }
  }
}

/** Commit `version` into the branch's version file, in a temporary worktree of the mirror. */
async function commitVersion(remote: Remote, c: ComponentPlan, role: BranchRole, revision: string, version: string): Promise<string> {
  const file = c[role].version_file ?? c.bug_fix.version_file
  if (!file) throw new UserError(`${remote.label}: the plan does not say which file holds the version of ${role}`)
  const kind = kindOf(file)
  const parsed = parseVersion(version)
  if (!kind || !parsed) throw new UserError(`${remote.label}: cannot set version ${version} in ${file}`)
  const parent = mkdtempSync(join(remote.mirror, '..', '.worktree-'))
  const worktree = join(parent, 'tree')
  const cleanup = async () => {
    await run('git', ['-C', remote.mirror, 'worktree', 'remove', '--force', worktree], { allowFailure: true })
    rmSync(parent, { recursive: true, force: true })
  }
  const unregister = onInterrupt(cleanup)
  try {
    await run('git', ['-C', remote.mirror, 'worktree', 'add', '--quiet', '--detach', worktree, revision])
    const path = join(worktree, file)
    writeFileSync(path, writeVersion(kind, readFileSync(path, 'utf8'), parsed))
    const identity = (await run('git', ['-C', worktree, 'config', 'user.email'], { allowFailure: true })).exitCode === 0 ? [] : ['-c', 'user.name=casa_distro_admin', '-c', 'user.email=casa_distro_admin@localhost']
    await run('git', ['-C', worktree, ...identity, 'commit', '--quiet', '-m', `version ${version}`, '--', file])
    return (await run('git', ['-C', worktree, 'rev-parse', 'HEAD'])).stdout.trim()
  } finally {
    await cleanup()
    unregister()
  }
}

/**
 * Whether commits `a` and `b` of the mirror make the same change: same parents, same tree,
 * same message (their authors' dates differ). False when the mirror lacks one of them.
 */
async function sameChange(mirror: string, a: string, b: string): Promise<boolean> {
  const [first, second] = await Promise.all([a, b].map((commit) => run('git', ['-C', mirror, 'show', '--no-patch', '--format=%P%n%T%n%B', commit], { allowFailure: true })))
  return first!.exitCode === 0 && second!.exitCode === 0 && first!.stdout === second!.stdout
}

async function runAction(remote: Remote, c: ComponentPlan, action: Action, refs: Record<string, string | null>): Promise<void> {
  const at = (target: Target) => {
    const ref = refName(c, target)
    return { ref, revision: ref in refs ? refs[ref]! : null }
  }
  const copy = async (from: Target, to: Target) => {
    const source = at(from)
    const target = at(to)
    if (!source.revision) throw new UserError(`${remote.label}: cannot copy ${describe(c, from)}: it does not exist`)
    await remote.push(source.revision, target.ref, target.revision)
    refs[target.ref] = source.revision
  }
  const remove = async (t: Target) => {
    const target = at(t)
    if (!target.revision) return
    await remote.push('', target.ref, target.revision)
    refs[target.ref] = null
  }
  switch (action[0]) {
    case 'set_version': {
      const target = at(action[1])
      if (!target.revision) throw new UserError(`${remote.label}: ${describe(c, action[1])} does not exist`)
      const now = await remote.current(target.ref)
      if (now === target.revision) {
        const commit = await commitVersion(remote, c, action[1], target.revision, action[2])
        await remote.push(commit, target.ref, target.revision)
        refs[target.ref] = commit
        return
      }
      // Moved: by a run that stopped between pushing its version commit and journaling it
      // when the remote holds the very change this run would make; otherwise by someone else.
      if (now && (await sameChange(remote.mirror, now, await commitVersion(remote, c, action[1], target.revision, action[2])))) {
        ui.info(`${remote.label}: ${target.ref} is already at ${now.slice(0, 10)}, the version ${action[2]} commit this run would make: taken as done`)
        refs[target.ref] = now
        return
      }
      return remote.expect(target.ref, target.revision, now)
    }
    case 'copy':
      return copy(action[1], action[2])
    case 'rename': {
      // the copy and the removal in one atomic push: both or neither
      const source = at(action[1])
      const target = at(action[2])
      if (!source.revision) throw new UserError(`${remote.label}: cannot copy ${describe(c, action[1])}: it does not exist`)
      await remote.pushAll([
        { source: source.revision, ref: target.ref, expected: target.revision },
        { source: '', ref: source.ref, expected: source.revision },
      ])
      refs[target.ref] = source.revision
      refs[source.ref] = null
      return
    }
    case 'delete':
      return remove(action[1])
    default:
      throw new UserError(`${remote.label}: unknown action ${JSON.stringify(action)}`)
  }
}

/** updateMirror, whose failure says which component (git's words alone do not), its URL masked as create_release_plan does. */
async function refreshMirror(mirror: string, url: string, label: string, signal?: AbortSignal): Promise<void> {
  try {
    await updateMirror(mirror, url, signal)
  } catch (error) {
    if (signal?.aborted || !isUserError(error)) throw error
    throw new UserError(redact(`${label}: cannot read ${url}: ${errorMessage(error)}`), error.exitCode)
  }
}

/** Apply the plan (or print it with dry); see the module comment for the safety rules. */
export async function applyPlan(options: ApplyOptions): Promise<ApplyReport> {
  checkApplicable(options.plan, options)
  const journalFile = join(options.repository, journalFileName)
  const journal = readJournal(journalFile)
  const report: ApplyReport = { done: 0, skipped: 0, components: 0 }
  for (const [project, name, c] of planEntries(options.plan)) {
    if (options.only && !options.only(project, name)) continue
    if (componentState(c) === 'nothing' || c.error_messages.length) continue
    report.components++
    const label = `${project}/${name}`
    const key = planKey(project, name, c)
    const journaled = (list: ListName, index: number) => journal.find((e) => e.key === key && e.list === list && e.index === index)
    if (options.dry) {
      // What a run would do now: the actions the journal shows done are said done, not listed.
      for (const list of lists) {
        for (const [index, action] of c.todo[list].entries()) {
          if (journaled(list, index)) ui.info(`${label} ${list}: ${formatAction(c, action)}: already done (journal)`)
          else ui.result(`${label} ${list}: ${formatAction(c, action)}`)
        }
      }
      continue
    }
    const refs: Record<string, string | null> = {}
    for (const role of branchRoles) refs[refName(c, role)] = c[role].revision
    for (const [tag, commit] of Object.entries(c.version_tags ?? {})) refs[`refs/tags/${tag}`] = commit
    const mirror = mirrorPath(options.repository, project, name)
    const url = remoteUrl(project, name, c.bug_fix.vcs_url, options.components)
    const remote = new Remote(url, mirror, label, options.signal)
    let mirrorReady = false
    for (const list of lists) {
      for (const [index, action] of c.todo[list].entries()) {
        const recorded = journaled(list, index)
        if (recorded) {
          Object.assign(refs, recorded.refs)
          report.skipped++
          ui.info(`${label} ${list}: ${formatAction(c, action)}: already done (journal)`)
          continue
        }
        if (!mirrorReady) {
          // The mirror holds the planned commits (and receives the version commits).
          await refreshMirror(mirror, url, label, options.signal)
          mirrorReady = true
        }
        await ui.step(`${label} ${list}: ${formatAction(c, action)}`, () => runAction(remote, c, action, refs))
        const entry: JournalEntry = { key, component: label, list, index, action, refs: { ...refs }, at: new Date().toISOString() }
        appendFileSync(journalFile, `${JSON.stringify(entry)}\n`)
        report.done++
      }
    }
  }
  return report
}
