// The git commands of one component's mirror, run by a shell borrowed from a GitShellPool
// (lib/git/gitShell.ts): clone, ls-remote, fetch, refs, then objects, which reads trees and
// files through `git cat-file --batch`. Each command is echoed with -v as what it runs.
import { credentialArgs, gitRemote } from './gitCredentials.js'
import type { ObjectReader } from './gitObjects.js'
import { type GitShell, GitShellPool, refFormat, type StepArgs } from './gitShell.js'
import type { Slots } from '../util/slots.js'
import { ui } from '../util/ui.js'

/** The steps that reach the remote: each is one session of the SSH connection. */
const remoteSteps = new Set(['clone', 'ls-remote', 'fetch'])

export class GitSession {
  private reader: ObjectReader | undefined

  private constructor(
    readonly dir: string,
    private readonly remote: StepArgs,
    private readonly shell: GitShell,
    private readonly pool: GitShellPool,
    private readonly ownPool: boolean,
    private readonly sessions: Slots | undefined,
  ) {}

  /**
   * A session on `dir` (whose remote is `url`; `temporary` is where a clone is made); without a
   * pool, it has a shell of its own. Git is given `url` without its credentials (lib/git/gitCredentials).
   * With `sessions` (those of a shared SSH connection), the commands that reach the remote each hold one.
   */
  static async open(dir: string, remote: { url: string; temporary: string }, options: { pool?: GitShellPool; env?: NodeJS.ProcessEnv; signal?: AbortSignal; sessions?: Slots } = {}): Promise<GitSession> {
    const pool = options.pool ?? new GitShellPool(1, options.env ?? process.env, options.signal)
    return new GitSession(dir, { dir, temporary: remote.temporary, ...gitRemote(remote.url) }, await pool.acquire(), pool, !options.pool, options.sessions)
  }

  /** `git -c` options that pass the credentials, echoed as run (they hold no secret). */
  private get auth(): readonly string[] {
    return credentialArgs(this.remote).options
  }

  clone = () => this.step('clone', ['git', ...this.auth, 'clone', '--mirror', '--quiet', this.remote.url, this.remote.temporary])
  lsRemote = () => this.step('ls-remote', ['git', ...this.auth, '-c', 'protocol.version=0', 'ls-remote', '--quiet', this.remote.url])
  refs = () => this.step('refs', ['git', '-C', this.dir, 'for-each-ref', refFormat])
  /** Point the mirror at the URL without credentials (a cache from an older version may hold them). */
  setUrl = () => this.step('set-url', ['git', '-C', this.dir, 'remote', 'set-url', 'origin', this.remote.url])
  fetch = () => {
    ui.command(['git', '-C', this.dir, 'remote', 'set-url', 'origin', this.remote.url])
    return this.step('fetch', ['git', ...this.auth, '-C', this.dir, 'fetch', '--prune', '--quiet', 'origin'])
  }

  /** The last step: reading objects with `git cat-file --batch`. */
  objects(): ObjectReader {
    if (!this.reader) {
      const argv = ['git', '-C', this.dir, 'cat-file', '--batch']
      ui.command(argv)
      this.reader = this.shell.objects(this.dir, argv)
    }
    return this.reader
  }

  /** Give the shell back once every request is answered. */
  async close(): Promise<void> {
    await this.shell.stopObjects()
    this.pool.release(this.shell)
    if (this.ownPool) await this.pool.close()
  }

  private step(name: 'clone' | 'ls-remote' | 'set-url' | 'fetch' | 'refs', argv: string[]): Promise<string> {
    const run = () => {
      ui.command(argv)
      return this.shell.run(name, this.remote, argv)
    }
    return this.sessions && remoteSteps.has(name) ? this.sessions.run(run) : run()
  }
}
