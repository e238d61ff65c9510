// All the git commands of one component run from one `sh`, so node forks once per component
// instead of once per command: forking node copies the page tables of tens of MB (about
// 5-10 ms of CPU each, more on virtual machines), forking sh almost nothing. Node sends step
// names on the shell's stdin (clone, ls-remote, fetch, refs, then objects, which becomes
// `git cat-file --batch`); each step's output ends with an empty line (none of these outputs
// holds one), a failed step ends the shell with its exit code and its stderr.
import { spawn, type ChildProcess } from 'node:child_process'
import { CommandError, notInstalled } from './exec.js'
import { ObjectReader } from './gitObjects.js'
import { ui } from './ui.js'

const refFormat = '--format=%(refname) %(objectname) %(*objectname)'

// $1 the mirror, $2 the remote URL, $3 the temporary clone, $4 the for-each-ref format.
const script = `while IFS= read -r step; do
  case $step in
    clone) git clone --mirror --quiet "$2" "$3" </dev/null ;;
    ls-remote) git ls-remote --quiet "$2" </dev/null ;;
    fetch) git -C "$1" remote set-url origin "$2" </dev/null && git -C "$1" fetch --prune --quiet origin </dev/null ;;
    refs) git -C "$1" for-each-ref "$4" </dev/null ;;
    objects) exec git -C "$1" cat-file --batch ;;
    *) exit 2 ;;
  esac || exit
  echo
done`

interface Step {
  argv: string[]
  resolve(output: string): void
  reject(error: Error): void
}

export class GitSession {
  private readonly child: ChildProcess
  private readonly steps: Step[] = []
  private stdout: Buffer = Buffer.alloc(0)
  private stderr = ''
  private reader: ObjectReader | undefined
  private failure: Error | undefined
  private readonly closed: Promise<void>

  constructor(
    readonly dir: string,
    readonly remote: { url: string; temporary: string },
    env: NodeJS.ProcessEnv,
    signal?: AbortSignal,
  ) {
    // Its own process group, so that an interrupt stops the git commands too, not only sh.
    this.child = spawn('sh', ['-c', script, 'sh', dir, remote.url, remote.temporary, refFormat], { env, stdio: ['pipe', 'pipe', 'pipe'], detached: true })
    const kill = () => {
      try {
        process.kill(-this.child.pid!, 'SIGTERM')
      } catch {
        // already gone
      }
    }
    signal?.addEventListener('abort', kill, { once: true })
    this.child.stdin!.on('error', () => {}) // EPIPE once sh has ended: its exit says why
    this.child.stdout!.on('data', (chunk: Buffer) => this.output(chunk))
    this.child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()))
    this.closed = new Promise((resolve) => {
      this.child.on('error', (error: NodeJS.ErrnoException) => this.fail(error.code === 'ENOENT' ? notInstalled('sh') : error))
      this.child.on('close', (code) => {
        signal?.removeEventListener('abort', kill)
        const failed = this.steps[0]?.argv ?? ['git', '-C', dir, 'cat-file', '--batch']
        this.fail(code === 127 && /git.*not found/.test(this.stderr) ? notInstalled('git') : new CommandError(failed, { exitCode: code ?? 1, stdout: '', stderr: this.stderr || 'ended early' }))
        resolve()
      })
    })
  }

  clone = () => this.step('clone', ['git', 'clone', '--mirror', '--quiet', this.remote.url, this.remote.temporary])
  lsRemote = () => this.step('ls-remote', ['git', 'ls-remote', '--quiet', this.remote.url])
  refs = () => this.step('refs', ['git', '-C', this.dir, 'for-each-ref', refFormat])
  fetch = () => {
    ui.command(['git', '-C', this.dir, 'remote', 'set-url', 'origin', this.remote.url])
    return this.step('fetch', ['git', '-C', this.dir, 'fetch', '--prune', '--quiet', 'origin'])
  }

  /** The last step: reading objects with `git cat-file --batch`. */
  objects(): ObjectReader {
    if (!this.reader) {
      ui.command(['git', '-C', this.dir, 'cat-file', '--batch'])
      this.child.stdin!.write('objects\n')
      this.reader = new ObjectReader(this.dir, (line) => this.child.stdin!.write(line))
      if (this.stdout.length) this.reader.feed(this.stdout)
    }
    return this.reader
  }

  /** End the shell (and cat-file) once every request is answered. */
  async close(): Promise<void> {
    this.child.stdin!.end()
    await this.closed
  }

  private step(name: string, argv: string[]): Promise<string> {
    if (this.reader) throw new Error(`git session: ${name} after objects`) // stdin now belongs to cat-file
    ui.command(argv)
    if (this.failure) return Promise.reject(this.failure)
    return new Promise((resolve, reject) => {
      this.steps.push({ argv, resolve, reject })
      this.child.stdin!.write(`${name}\n`)
    })
  }

  private output(chunk: Buffer): void {
    if (this.reader) return this.reader.feed(chunk)
    this.stdout = this.stdout.length ? Buffer.concat([this.stdout, chunk]) : chunk
    while (this.steps.length) {
      // A step's output, then an empty line: "\n" alone for no output, else "...\n\n".
      const end = this.stdout[0] === 10 ? 0 : this.stdout.indexOf('\n\n')
      if (end < 0) return
      const text = end === 0 ? '' : this.stdout.subarray(0, end + 1).toString()
      this.stdout = this.stdout.subarray(end === 0 ? 1 : end + 2)
      this.steps.shift()!.resolve(text)
    }
  }

  private fail(error: Error): void {
    this.failure ??= error
    for (const step of this.steps.splice(0)) step.reject(error)
    this.reader?.fail(error)
  }
}
