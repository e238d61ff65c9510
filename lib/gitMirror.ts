// A local bare mirror of each release-plan component, kept under the workflow repository so
// that inspecting again only fetches what changed (`git clone --mirror` once, then
// `git fetch --prune`). Every git command goes through lib/exec (echoed with -v).
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

/** Make `dir` a fresh mirror of `url`: fetch when it exists, clone under a temporary name otherwise. */
export async function updateMirror(dir: string, url: string, signal?: AbortSignal): Promise<'cloned' | 'fetched'> {
  const env = gitEnv()
  if (existsSync(join(dir, 'HEAD'))) {
    // The URL may have changed in the config since the last run.
    await run('git', ['-C', dir, 'remote', 'set-url', 'origin', url], { env, signal })
    await run('git', ['-C', dir, 'fetch', '--prune', '--quiet', 'origin'], { env, signal })
    return 'fetched'
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
  return 'cloned'
}

/** Branches and tags of a mirror, as of its last fetch. */
export async function readRefs(dir: string): Promise<RefMap> {
  const { stdout } = await run('git', ['-C', dir, 'for-each-ref', '--format=%(refname) %(objectname) %(*objectname)', 'refs/heads', 'refs/tags'])
  const refs: RefMap = { branches: new Map(), tags: new Map() }
  for (const line of stdout.split('\n')) {
    const [ref, object, peeled] = line.trim().split(' ')
    if (!ref || !object) continue
    if (ref.startsWith('refs/heads/')) refs.branches.set(ref.slice('refs/heads/'.length), object)
    else if (ref.startsWith('refs/tags/')) refs.tags.set(ref.slice('refs/tags/'.length), peeled || object)
  }
  return refs
}

/** The text of `file` at `revision`, or undefined when the file is not there. */
export async function showFile(dir: string, revision: string, file: string): Promise<string | undefined> {
  const result = await run('git', ['-C', dir, 'show', `${revision}:${file}`], { allowFailure: true })
  return result.exitCode === 0 ? result.stdout : undefined
}

/** Every file path at `revision` (for finding a python package's info.py). */
export async function listFiles(dir: string, revision: string): Promise<string[]> {
  const { stdout } = await run('git', ['-C', dir, 'ls-tree', '-r', '--name-only', revision])
  return stdout.split('\n').filter(Boolean)
}
