// One SSH connection per host for every git command of a run. Each `git ls-remote` or
// `git fetch` over ssh:// starts an ssh of its own, and each pays a TCP connect, a key
// exchange and an authentication: about ten round trips, 0.4 s to a forge 40 ms away, for a
// command whose own work takes two or three. OpenSSH's connection sharing (ControlMaster)
// lets the later ones ride on the first connection: a master per host is opened before the
// inspection starts, its socket in a private directory (mkdtemp: mode 0700, so no other user
// can use our authenticated connection), and closed at the end (`ssh -O exit`); ControlPersist
// ends a master left behind by a run that was killed.
//
// The user's own setup wins: nothing is shared when GIT_SSH is set, or GIT_SSH_COMMAND or
// core.sshCommand is not plain `ssh ...`, or already says Control..., or an ssh_config the
// user's ssh reads mentions ControlMaster, ControlPath or ControlPersist. Host keys are checked
// as before: the master is an ordinary ssh with the user's options (StrictHostKeyChecking and
// known_hosts unchanged), and the commands after it go through the connection it checked.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { homedir, tmpdir, userInfo } from 'node:os'
import { basename, join } from 'node:path'
import { run } from '../util/exec.js'
import { Slots } from '../util/slots.js'
import { onInterrupt } from '../util/interrupt.js'
import { ui } from '../util/ui.js'

/** A master left behind (a killed run) ends after this many seconds without a client. */
const PERSIST_SECONDS = 60

/**
 * Git commands at once through one shared connection: one below sshd's MaxSessions default
 * (10). Past the server's limit it refuses the master's new session and ssh falls back to a
 * connection of its own, paying the whole handshake again (16 at once made 13 connections
 * instead of 1). At exactly 10 a request right behind a session's close still found all ten
 * taken now and then (1 command in 600 on a loaded machine): the server frees a session only
 * once it has read the close.
 */
export const SESSIONS_PER_CONNECTION = 9

export interface SshDestination {
  user?: string
  host: string
  port?: number
}

export interface SshSharing {
  /** The environment for git: GIT_SSH_COMMAND with the sharing options, or `env` unchanged. */
  env: NodeJS.ProcessEnv
  /**
   * Settles once the master of each host is up, or has failed (git then connects on its own,
   * and says why it cannot): git commands wait for it, the shells that run them need not.
   */
  connected: Promise<void>
  /** Once connected: the sessions of the shared connection that reaches `url`, or undefined when it has none. */
  sessions(url: string): Slots | undefined
  /** Close the masters and remove the socket directory. */
  close(): Promise<void>
}

/** The ssh destination of a git URL (`ssh://[user@]host[:port]/path` or scp-like `[user@]host:path`), else undefined. */
export function sshDestination(url: string): SshDestination | undefined {
  const ssh = /^(?:git\+ssh|ssh\+git|ssh):\/\/(?:([^@/]+)@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?\//.exec(url)
  if (ssh) return { user: ssh[1] && decodeURIComponent(ssh[1]), host: ssh[2]!.replace(/^\[|\]$/g, ''), port: ssh[3] ? Number(ssh[3]) : undefined }
  // scp-like: no scheme, a colon before any slash (git's own rule), not a local path
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || url.startsWith('/') || url.startsWith('.')) return undefined
  const scp = /^(?:([^@/:]+)@)?(\[[^\]]+\]|[^:/]+):/.exec(url)
  if (!scp) return undefined
  return { user: scp[1], host: scp[2]!.replace(/^\[|\]$/g, '') }
}

const key = (d: SshDestination) => `${d.user ?? ''}@${d.host}:${d.port ?? ''}`

/** ssh_config files the user's ssh reads (the user's own by the passwd home directory, as ssh does, and $HOME's). */
function sshConfigFiles(env: NodeJS.ProcessEnv): string[] {
  const homes = new Set([safeHomedir(), env.HOME].filter((h): h is string => Boolean(h)))
  const files = [...[...homes].map((h) => join(h, '.ssh', 'config')), '/etc/ssh/ssh_config']
  try {
    for (const name of readdirSync('/etc/ssh/ssh_config.d')) if (name.endsWith('.conf')) files.push(join('/etc/ssh/ssh_config.d', name))
  } catch {
    // no such directory
  }
  return files
}

function safeHomedir(): string | undefined {
  try {
    return userInfo().homedir || homedir()
  } catch {
    return undefined
  }
}

const mentionsControl = (text: string) => /^\s*control(master|path|persist)\b/im.test(text) || /\bcontrol(master|path|persist)\s*=/i.test(text)

/** Why the user's setup keeps sharing off, or undefined when we may share. */
async function userSetupSays(env: NodeJS.ProcessEnv, baseCommand: string): Promise<string | undefined> {
  if (env.GIT_SSH) return 'GIT_SSH is set'
  if (basename(baseCommand.trim().split(/\s+/)[0] ?? '') !== 'ssh') return 'GIT_SSH_COMMAND runs another program than ssh'
  if (mentionsControl(baseCommand)) return 'GIT_SSH_COMMAND sets connection sharing'
  for (const file of sshConfigFiles(env)) {
    if (!existsSync(file)) continue
    let text
    try {
      text = readFileSync(file, 'utf8')
    } catch {
      continue
    }
    if (mentionsControl(text)) return `${file} sets connection sharing`
  }
  return undefined
}

/**
 * Share one SSH connection per host among the git commands that will reach `urls` with `env`.
 * Resolves once the masters are started (one per ssh host), before they are connected.
 */
export async function shareSshConnections(urls: readonly string[], env: NodeJS.ProcessEnv): Promise<SshSharing> {
  const destinations = new Map<string, SshDestination>()
  for (const url of urls) {
    const d = sshDestination(url)
    if (d) destinations.set(key(d), d)
  }
  const unchanged: SshSharing = { env, connected: Promise.resolve(), sessions: () => undefined, close: async () => undefined }
  if (destinations.size === 0) return unchanged
  // core.sshCommand is used by git only without GIT_SSH_COMMAND: read it then only
  const configured = env.GIT_SSH_COMMAND ?? (await run('git', ['config', '--get', 'core.sshCommand'], { env, allowFailure: true })).stdout.trim()
  const base = configured || 'ssh'
  const refused = await userSetupSays(env, base)
  if (refused) {
    ui.debug(`ssh connections not shared: ${refused}`)
    return unchanged
  }
  // a socket path holds at most 107 bytes: %C is 40, so a long TMPDIR gives way to /tmp
  const parent = tmpdir().length + 60 < 100 ? tmpdir() : '/tmp'
  const dir = mkdtempSync(join(parent, 'casa-ssh-'))
  const sharing = ['-o', 'ControlMaster=auto', '-o', `ControlPath=${dir}/%C`, '-o', `ControlPersist=${PERSIST_SECONDS}`]
  const command = `${base} ${sharing.join(' ')}`
  let closing: Promise<void> | undefined
  const close = () =>
    (closing ??= (async () => {
      forget()
      let sockets: string[] = []
      try {
        sockets = readdirSync(dir)
      } catch {
        // removed already
      }
      // the path given literally (no %C): the destination is then only a word ssh wants
      await Promise.all(sockets.map((s) => run('ssh', ['-o', `ControlPath=${join(dir, s)}`, '-O', 'exit', 'casa-ssh-master'], { env, allowFailure: true })))
      rmSync(dir, { recursive: true, force: true })
    })())
  const forget = onInterrupt(close)
  // Masters at once, one per host; -N -f: no command (git-only accounts allow none), in the
  // background once authenticated. The shell splits `base` as git would.
  const sessions = new Map<string, Slots>()
  const connected = Promise.all(
    [...destinations].map(async ([name, d]) => {
      const args = ['-N', '-f', ...(d.port ? ['-p', String(d.port)] : []), ...(d.user ? ['-l', d.user] : []), '--', d.host]
      const result = await run('sh', ['-c', `${command} "$@"`, 'ssh', ...args], { env, allowFailure: true })
      if (result.exitCode === 0) sessions.set(name, new Slots(SESSIONS_PER_CONNECTION))
      else ui.debug(`no shared ssh connection to ${d.host}: ${result.stderr.trim().split('\n').pop() ?? ''}`)
    }),
  ).then(() => undefined)
  return {
    env: { ...env, GIT_SSH_COMMAND: command },
    connected,
    sessions: (url) => {
      const d = sshDestination(url)
      return d && sessions.get(key(d))
    },
    close,
  }
}
