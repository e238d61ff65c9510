// A local bare mirror of each release-plan component, kept under the workflow repository so
// that inspecting again only fetches what changed (`git clone --mirror` once, then
// `git fetch --prune` when `git ls-remote` shows a change). A component's git commands run in
// one lib/git/gitSession (each echoed with -v), on a shell of the caller's pool when it has one.
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, renameSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { hasCredentials } from './gitCredentials.js'
import { GitSession } from './gitSession.js'
import type { GitShellPool } from './gitShell.js'
import type { Slots } from '../util/slots.js'
import { systemErrorOnPath, UserError } from '../util/errors.js'
import { envSeconds } from '../util/envSeconds.js'
import { removeDeadLeftovers } from '../util/leftovers.js'

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

/** How long a git server may stay silent: CASA_GIT_TIMEOUT seconds, 60 by default. */
export function gitTimeoutSeconds(env: NodeJS.ProcessEnv = process.env): number {
  return envSeconds('CASA_GIT_TIMEOUT', 60, UserError, env)
}

/**
 * Git must never ask for a password or a host key while we inspect or apply: not on a
 * terminal, nor through an askpass program (a desktop's opens a window and waits, one per
 * component). GIT_TERMINAL_PROMPT=0 leaves askpass programs on; an empty GIT_ASKPASS turns
 * them off, core.askpass and SSH_ASKPASS included. Credential helpers still apply.
 * Nor wait for ever on a server that stalls: git has no bound of its own, so over http(s) a
 * transfer below 1 byte/s for CASA_GIT_TIMEOUT seconds ends (git's GIT_HTTP_LOW_SPEED_*, which
 * win when set), and over ssh the connection ends after as long without an answer to
 * keepalives (the user's GIT_SSH_COMMAND, when set, is theirs).
 */
export const gitEnv = (): NodeJS.ProcessEnv => {
  const seconds = gitTimeoutSeconds()
  const interval = Math.max(1, Math.ceil(seconds / 4))
  return {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    GIT_HTTP_LOW_SPEED_LIMIT: process.env.GIT_HTTP_LOW_SPEED_LIMIT || '1',
    GIT_HTTP_LOW_SPEED_TIME: process.env.GIT_HTTP_LOW_SPEED_TIME || String(Math.ceil(seconds)),
    GIT_SSH_COMMAND: process.env.GIT_SSH_COMMAND ?? `ssh -o BatchMode=yes -o ServerAliveInterval=${interval} -o ServerAliveCountMax=4`,
  }
}

type Refs = Map<string, { object: string; peeled: string }>

/** `git for-each-ref` output: refname -> its object and, for an annotated tag, the commit it points to. */
function parseRefs(text: string): Refs {
  const refs: Refs = new Map()
  for (const line of text.split('\n')) {
    const [ref, object, peeled] = line.trim().split(' ')
    if (ref && object) refs.set(ref, { object, peeled: peeled ?? '' })
  }
  return refs
}

/** `git ls-remote` output, reduced to what a fetch mirrors (`refs/*`: no HEAD, no peeled `^{}` lines). */
function parseRemoteRefs(text: string): Map<string, string> {
  const refs = new Map<string, string>()
  for (const line of text.split('\n')) {
    const [object, ref] = line.trim().split('\t')
    if (object && ref?.startsWith('refs/') && !ref.endsWith('^{}')) refs.set(ref, object)
  }
  return refs
}

/**
 * The refs of a mirror just cloned, read from its `packed-refs` (where `git clone` writes them
 * all) instead of a `git for-each-ref` process: on a cold cache that process was a tenth of
 * the git processes run. Undefined, so that git is asked, unless the file says every annotated
 * tag is peeled and no loose ref exists (another ref backend, a git that wrote loose refs).
 */
export function readPackedRefs(dir: string): Refs | undefined {
  let text: string
  try {
    text = readFileSync(join(dir, 'packed-refs'), 'utf8')
    if (readdirSync(join(dir, 'refs'), { recursive: true, withFileTypes: true }).some((entry) => !entry.isDirectory())) return undefined
  } catch {
    return undefined
  }
  const lines = text.split('\n')
  if (!/^# pack-refs with:.* fully-peeled /.test(`${lines[0]} `)) return undefined
  const refs: Refs = new Map()
  let last: { object: string; peeled: string } | undefined
  for (const line of lines.slice(1)) {
    if (line === '') continue
    if (line.startsWith('^')) {
      if (!last) return undefined
      last.peeled = line.slice(1)
      continue
    }
    const [object, ref] = line.split(' ')
    if (!object || !ref || !/^[0-9a-f]{40,64}$/.test(object)) return undefined
    last = { object, peeled: '' }
    refs.set(ref, last)
  }
  return refs
}

function branchesAndTags(all: Refs): RefMap {
  const refs: RefMap = { branches: new Map(), tags: new Map() }
  for (const [ref, { object, peeled }] of all) {
    if (ref.startsWith('refs/heads/')) refs.branches.set(ref.slice('refs/heads/'.length), object)
    else if (ref.startsWith('refs/tags/')) refs.tags.set(ref.slice('refs/tags/'.length), peeled || object)
  }
  return refs
}

/**
 * The URL of the mirror's `origin` as its config holds it, read from the file: no git process
 * on the path where nothing changed.
 */
export function storedRemoteUrl(dir: string): string | undefined {
  let text: string
  try {
    text = readFileSync(join(dir, 'config'), 'utf8')
  } catch {
    return undefined
  }
  const section = /^\s*\[remote "origin"\]\s*$([^[]*)/m.exec(text)?.[1] ?? ''
  return /^\s*url\s*=\s*(\S+)\s*$/m.exec(section)?.[1]
}

/**
 * Make `dir` a fresh mirror of `url`: clone under a temporary name when it does not exist;
 * otherwise fetch, unless `git ls-remote` shows that the mirror already holds every ref as the
 * remote has it (a fetch would change nothing). Returns its branches and tags, and the git
 * session left open for reading objects: the caller closes it.
 */
export async function openMirror(dir: string, url: string, options: { signal?: AbortSignal; pool?: GitShellPool; sessions?: Slots } = {}): Promise<{ refs: RefMap; session: GitSession }> {
  const temporary = `${dir}.tmp-${process.pid}`
  // With a pool, its shells already have the environment: copying process.env per component cost 0.4 ms each.
  const session = await GitSession.open(dir, { url, temporary }, { ...options, env: options.pool ? undefined : gitEnv() })
  try {
    // half-made clones of runs that were killed (their pid gone): removed whether this run
    // clones or fetches (another run may have made the mirror since), never a live run's
    removeDeadLeftovers(dir)
    if (existsSync(join(dir, 'HEAD'))) {
      // A cache written before credentials were kept out of it still has them in its config:
      // rewritten, not judged (gitRemote would refuse ones the configuration now refuses).
      if (hasCredentials(storedRemoteUrl(dir) ?? '')) await session.setUrl()
      // A mirror untouched since its clone still has every ref in packed-refs: no git process to read them.
      const packed = readPackedRefs(dir)
      const [remote, local] = await Promise.all([session.lsRemote(), packed ? '' : session.refs()])
      const mirrored = packed ?? parseRefs(local)
      const current = parseRemoteRefs(remote)
      if (current.size === mirrored.size && [...current].every(([ref, object]) => mirrored.get(ref)?.object === object)) return { refs: branchesAndTags(mirrored), session }
      await session.fetch() // after `remote set-url`: the URL may have changed in the config
    } else {
      // An unwritable cache is the local repository's trouble, said so: git would blame the clone.
      try {
        mkdirSync(dirname(dir), { recursive: true })
        accessSync(dirname(dir), constants.W_OK)
      } catch (error) {
        throw systemErrorOnPath(error, 'the release-plan cache') ?? error
      }
      rmSync(temporary, { recursive: true, force: true })
      try {
        await session.clone()
        renameSync(temporary, dir)
      } catch (error) {
        rmSync(temporary, { recursive: true, force: true })
        throw error
      }
      const packed = readPackedRefs(dir)
      if (packed) return { refs: branchesAndTags(packed), session }
    }
    return { refs: branchesAndTags(parseRefs(await session.refs())), session }
  } catch (error) {
    await session.close()
    throw error
  }
}

/** openMirror, for callers that only need the mirror up to date. */
export async function updateMirror(dir: string, url: string, signal?: AbortSignal): Promise<RefMap> {
  const { refs, session } = await openMirror(dir, url, { signal })
  await session.close()
  return refs
}
