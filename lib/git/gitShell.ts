// Long-lived `sh` processes that run the git commands of release-plan inspection, one
// component after another: node forks each shell once per run instead of once per component.
// Forking node copies the page tables of its tens of MB (10 ms of CPU per fork unloaded,
// 26 ms on a busy two-core VM: a fifth of a cold inspection of 100 components was node
// forking); forking sh costs almost nothing.
//
// Protocol. Node writes a step as six lines: its name, the mirror, the remote URL, the
// temporary clone path, and the user name (after a `+`; `-` for none) and password of an
// http(s) URL (see lib/git/gitCredentials): read from the shell's input, these two go into the
// environment of the git commands that reach the remote, never on a command line. The shell
// runs the step, then writes `\035<exit code>\n` on stdout and on stderr: each stream's
// output for the step is what comes before its marker (ref names and git's messages hold no
// control character). `objects` starts `git cat-file --batch` in the
// background on the shell's own input, tells its pid on stderr and waits: the requests node
// writes next go to cat-file. cat-file stops only at the end of its input, and the shell's
// input must stay open, so node ends it with SIGTERM once every request is answered.
import { spawn, type ChildProcess } from 'node:child_process'
import { CommandError, notInstalled, saysNotFound } from '../util/exec.js'
import { credentialHelper, credentialVariables, type GitCredentials } from './gitCredentials.js'
import { ObjectReader } from './gitObjects.js'

export const refFormat = '--format=%(refname) %(objectname) %(*objectname)'

// ls-remote speaks protocol v0: the server sends every ref at once, where v2 (git's default)
// first sends its capabilities and waits for an ls-refs request, one round trip more for the
// same list (every ref: no prefix is asked either way), on every component of every run.
// The credentials' variables are unset first: read into a variable exported from the
// environment, they would reach every command.
const script = `exec 3<&0
unset casa_user casa_pass
helper=$2
remote_git() {
  case $casa_user in
    +*) ${credentialVariables.username}=\${casa_user#+} ${credentialVariables.password}=$casa_pass git -c credential.helper= -c "credential.helper=$helper" "$@" ;;
    *) git "$@" ;;
  esac
}
while IFS= read -r step && IFS= read -r dir && IFS= read -r url && IFS= read -r tmp && IFS= read -r casa_user && IFS= read -r casa_pass; do
  case $step in
    clone) remote_git clone --mirror --quiet "$url" "$tmp" </dev/null ;;
    ls-remote) remote_git -c protocol.version=0 ls-remote --quiet "$url" </dev/null ;;
    set-url) git -C "$dir" remote set-url origin "$url" </dev/null ;;
    fetch) git -C "$dir" remote set-url origin "$url" </dev/null && remote_git -C "$dir" fetch --prune --quiet origin </dev/null ;;
    refs) git -C "$dir" for-each-ref "$1" </dev/null ;;
    objects) git -C "$dir" cat-file --batch <&3 & printf '\\035pid %s\\n' "$!" >&2; wait "$!" ;;
    *) exit 2 ;;
  esac
  code=$?
  printf '\\035%s\\n' "$code"
  printf '\\035%s\\n' "$code" >&2
done`

export type StepName = 'clone' | 'ls-remote' | 'set-url' | 'fetch' | 'refs' | 'objects'

/** What a step is given: the mirror, the remote (its URL without credentials, see lib/git/gitCredentials) and where a clone goes. */
export interface StepArgs {
  dir: string
  url: string
  temporary: string
  credentials?: GitCredentials
}

interface Step {
  name: StepName
  argv: string[]
  out?: string
  code?: number
  err?: string
  resolve(output: string): void
  reject(error: Error): void
}

interface CatFile {
  pid: Promise<number>
  gotPid(pid: number): void
  /** We asked it to end: its exit is no failure. */
  stopped: boolean
  ended: Promise<unknown>
}

/** One shell. Steps run in the order they are asked; `objects` takes the shell until stopObjects(). */
export class GitShell {
  private readonly child: ChildProcess
  private readonly steps: Step[] = []
  private stdout: Buffer = Buffer.alloc(0)
  private stderr = ''
  private reader: ObjectReader | undefined
  private catFile: CatFile | undefined
  /** Why the shell cannot be used any more (it ended, or its output is out of step). */
  broken: Error | undefined
  readonly closed: Promise<void>

  constructor(env: NodeJS.ProcessEnv) {
    // Its own process group, so that an interrupt stops the git commands too, not only sh.
    this.child = spawn('sh', ['-c', script, 'sh', refFormat, credentialHelper], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
    this.child.stdin!.on('error', () => {}) // EPIPE once sh has ended: its exit says why
    this.child.stdout!.on('data', (chunk: Buffer) => this.onStdout(chunk))
    this.child.stderr!.on('data', (chunk: Buffer) => this.onStderr(chunk.toString()))
    this.closed = new Promise((resolve) => {
      this.child.on('error', (error: NodeJS.ErrnoException) => this.fail(error.code === 'ENOENT' ? notInstalled('sh') : error))
      this.child.on('close', (code) => {
        const failed = this.steps[0]?.argv ?? ['sh', '-c', 'git ...']
        this.fail(code === 127 && /git.*not found/.test(this.stderr) ? notInstalled('git') : new CommandError(failed, { exitCode: code ?? 1, stdout: '', stderr: this.stderr || 'ended early' }))
        resolve()
      })
    })
  }

  /** Run one step; resolves with its stdout, rejects with a CommandError naming `argv`. */
  run(name: Exclude<StepName, 'objects'>, args: StepArgs, argv: string[]): Promise<string> {
    if (this.reader) throw new Error(`git shell: ${name} while cat-file runs`) // stdin now belongs to cat-file
    return this.send(name, args, argv)
  }

  /** Start `git cat-file --batch` in `dir`: a reader for its objects, until stopObjects(). */
  objects(dir: string, argv: string[]): ObjectReader {
    let gotPid!: (pid: number) => void
    const pid = new Promise<number>((resolve) => (gotPid = resolve))
    const catFile: CatFile = { pid, gotPid, stopped: false, ended: Promise.resolve() }
    this.catFile = catFile
    this.reader = new ObjectReader(dir, (line) => this.child.stdin!.write(line), (rest) => this.onStdout(rest))
    catFile.ended = this.send('objects', { dir, url: '', temporary: '' }, argv).then(
      () => catFile.stopped || this.fail(new CommandError(argv, { exitCode: 0, stdout: '', stderr: 'git cat-file ended early' })),
      (error: Error) => catFile.stopped || this.fail(error),
    )
    return this.reader
  }

  /** End cat-file and give the shell back its input. Stopped with requests unanswered, the shell is broken. */
  async stopObjects(): Promise<void> {
    const catFile = this.catFile
    if (!catFile) return
    catFile.stopped = true
    if (this.reader!.waiting && !this.broken) {
      this.fail(new Error('git shell: cat-file stopped with requests unanswered'))
      this.kill()
    }
    if (!this.broken) {
      const pid = await Promise.race([catFile.pid, this.closed.then(() => 0)])
      try {
        if (pid) process.kill(pid, 'SIGTERM')
      } catch {
        // it has ended already
      }
      await catFile.ended
    }
    this.catFile = undefined
    this.reader = undefined
  }

  /** Let the shell end (at the end of its input). */
  end(): Promise<void> {
    this.child.stdin!.end()
    return this.closed
  }

  /** Stop the shell and whatever git command it runs. */
  kill(): void {
    try {
      process.kill(-this.child.pid!, 'SIGTERM')
    } catch {
      // already gone
    }
  }

  private send(name: StepName, args: StepArgs, argv: string[]): Promise<string> {
    if (this.broken) return Promise.reject(this.broken)
    const lines = [name, args.dir, args.url, args.temporary, args.credentials ? `+${args.credentials.username}` : '-', args.credentials?.password ?? '']
    if (lines.some((line) => line.includes('\n'))) return Promise.reject(new CommandError(argv, { exitCode: 128, stdout: '', stderr: 'fatal: a path, URL or credential holds a line break' }))
    return new Promise((resolve, reject) => {
      this.steps.push({ name, argv, resolve, reject })
      this.child.stdin!.write(`${lines.join('\n')}\n`)
    })
  }

  private onStdout(chunk: Buffer): void {
    if (this.reader && !this.reader.ended) return this.reader.feed(chunk)
    this.stdout = this.stdout.length ? Buffer.concat([this.stdout, chunk]) : chunk
    for (;;) {
      const mark = this.stdout.indexOf(0x1d)
      const eol = mark < 0 ? -1 : this.stdout.indexOf(10, mark)
      const step = this.steps.find((s) => s.code === undefined)
      if (eol < 0 || !step) return
      step.out = this.stdout.subarray(0, mark).toString()
      step.code = Number(this.stdout.subarray(mark + 1, eol).toString())
      this.stdout = this.stdout.subarray(eol + 1)
      this.settle()
    }
  }

  private onStderr(text: string): void {
    this.stderr += text
    for (;;) {
      const match = /\x1d(pid )?(\d+)\n/.exec(this.stderr)
      if (!match) return
      const before = this.stderr.slice(0, match.index)
      this.stderr = this.stderr.slice(match.index + match[0].length)
      if (match[1]) {
        this.stderr = before + this.stderr
        this.catFile?.gotPid(Number(match[2]))
        continue
      }
      const step = this.steps.find((s) => s.err === undefined)
      if (!step) return void (this.broken ??= new Error(`git shell: unexpected output: ${before}`))
      // cat-file ended before we stopped it: its answers may be cut, so no later output can be trusted
      if (step.name === 'objects' && !this.catFile?.stopped) return void this.fail(new CommandError(step.argv, { exitCode: Number(match[2]), stdout: '', stderr: before || 'git cat-file ended early' }))
      step.err = before
      this.settle()
    }
  }

  private settle(): void {
    while (this.steps[0]?.code !== undefined && this.steps[0].err !== undefined) {
      const step = this.steps.shift()!
      if (step.code === 0) step.resolve(step.out!)
      else if (saysNotFound('git', step.code!, step.err!)) step.reject(notInstalled('git'))
      else step.reject(new CommandError(step.argv, { exitCode: step.code!, stdout: step.out!, stderr: step.err! }))
    }
  }

  private fail(error: Error): true {
    this.broken ??= error
    for (const step of this.steps.splice(0)) step.reject(error)
    this.reader?.fail(error)
    return true
  }
}

/** At most `size` shells, lent to one user at a time. */
export class GitShellPool {
  private readonly idle: GitShell[] = []
  private readonly all = new Set<GitShell>()
  private readonly waiting: ((shell: GitShell) => void)[] = []
  private readonly killAll = () => this.all.forEach((shell) => shell.kill())
  /** How many shells it has started (one per job unless some broke). */
  spawned = 0

  constructor(
    readonly size: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly signal?: AbortSignal,
  ) {
    signal?.addEventListener('abort', this.killAll, { once: true })
  }

  acquire(): Promise<GitShell> {
    const shell = this.idle.pop() ?? (this.all.size < this.size ? this.spawn() : undefined)
    return shell ? Promise.resolve(shell) : new Promise((resolve) => this.waiting.push(resolve))
  }

  /** Start up to `count` shells before they are asked for, so that the first steps need not wait for them. */
  prestart(count: number): void {
    while (this.all.size < Math.min(count, this.size)) this.idle.push(this.spawn())
  }

  /** Take a shell back; a broken one is ended and replaced. */
  release(shell: GitShell): void {
    if (shell.broken) {
      this.all.delete(shell)
      shell.kill()
      if (!this.waiting.length) return
      shell = this.spawn()
    }
    const waiter = this.waiting.shift()
    if (waiter) waiter(shell)
    else this.idle.push(shell)
  }

  /** End every shell (once the work is done). */
  async close(): Promise<void> {
    this.signal?.removeEventListener('abort', this.killAll)
    await Promise.all([...this.all].map((shell) => shell.end()))
  }

  private spawn(): GitShell {
    const shell = new GitShell(this.env)
    this.spawned++
    this.all.add(shell)
    return shell
  }
}
