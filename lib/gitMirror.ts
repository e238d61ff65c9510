// A local bare mirror of each release-plan component, kept under the workflow repository so
// that inspecting again only fetches what changed (`git clone --mirror` once, then
// `git fetch --prune` when `git ls-remote` shows a change). Every git command goes through
// lib/exec (echoed with -v).
import { existsSync, mkdirSync, rmSync, renameSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { run } from './exec.js'

/** Where the mirrors live, relative to the workflow repository. */
export const mirrorCacheDir = '.release-plan-cache'

export interface RefMap {
  /** Branch name -> commit. */
  branches: Map<string, string>
  /** Tag name -> commit it points to (annotated tags peeled). */
  tags: Map<string, string>
}

export function mirrorPath(repository: string, project: string, name: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]/g, '_')
  return join(repository, mirrorCacheDir, safe(project), `${safe(name)}.git`)
}

/** Git must never ask for a password or a host key on a terminal while we inspect. */
export const gitEnv = (): NodeJS.ProcessEnv => ({ ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes' })

/** Every ref of a mirror: refname -> its object and, for an annotated tag, the commit it points to. */
async function listRefs(dir: string): Promise<Map<string, { object: string; peeled: string }>> {
  const { stdout } = await run('git', ['-C', dir, 'for-each-ref', '--format=%(refname) %(objectname) %(*objectname)'])
  const refs = new Map<string, { object: string; peeled: string }>()
  for (const line of stdout.split('\n')) {
    const [ref, object, peeled] = line.trim().split(' ')
    if (ref && object) refs.set(ref, { object, peeled: peeled ?? '' })
  }
  return refs
}

/** The refs a fetch of `url` would mirror (`refs/*`: no HEAD, no peeled `^{}` lines): refname -> object. */
async function remoteRefs(url: string, signal?: AbortSignal): Promise<Map<string, string>> {
  const { stdout } = await run('git', ['ls-remote', '--quiet', url], { env: gitEnv(), signal })
  const refs = new Map<string, string>()
  for (const line of stdout.split('\n')) {
    const [object, ref] = line.trim().split('\t')
    if (object && ref?.startsWith('refs/') && !ref.endsWith('^{}')) refs.set(ref, object)
  }
  return refs
}

function branchesAndTags(all: Map<string, { object: string; peeled: string }>): RefMap {
  const refs: RefMap = { branches: new Map(), tags: new Map() }
  for (const [ref, { object, peeled }] of all) {
    if (ref.startsWith('refs/heads/')) refs.branches.set(ref.slice('refs/heads/'.length), object)
    else if (ref.startsWith('refs/tags/')) refs.tags.set(ref.slice('refs/tags/'.length), peeled || object)
  }
  return refs
}

/**
 * Make `dir` a fresh mirror of `url` and return its branches and tags: clone under a temporary
 * name when it does not exist; otherwise fetch, unless `git ls-remote` shows that the mirror
 * already holds every ref as the remote has it (a fetch would change nothing, and skipping it
 * and `remote set-url` saves two git runs per component on a re-run).
 */
export async function updateMirror(dir: string, url: string, signal?: AbortSignal): Promise<RefMap> {
  const env = gitEnv()
  if (existsSync(join(dir, 'HEAD'))) {
    const [remote, local] = await Promise.all([remoteRefs(url, signal), listRefs(dir)])
    if (remote.size === local.size && [...remote].every(([ref, object]) => local.get(ref)?.object === object)) return branchesAndTags(local)
    // The URL may have changed in the config since the last run.
    await run('git', ['-C', dir, 'remote', 'set-url', 'origin', url], { env, signal })
    await run('git', ['-C', dir, 'fetch', '--prune', '--quiet', 'origin'], { env, signal })
    return branchesAndTags(await listRefs(dir))
  }
  mkdirSync(dirname(dir), { recursive: true })
  const temporary = `${dir}.tmp-${process.pid}`
  rmSync(temporary, { recursive: true, force: true })
  try {
    await run('git', ['clone', '--mirror', '--quiet', url, temporary], { env, signal })
    renameSync(temporary, dir)
  } catch (error) {
    rmSync(temporary, { recursive: true, force: true })
    throw error
  }
  return branchesAndTags(await listRefs(dir))
}
