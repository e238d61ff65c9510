// Reading a mirror's trees and files through one `git cat-file --batch` per component (run
// by lib/git/gitShell.ts) instead of one `git ls-tree` and one `git show` per branch: starting
// processes is most of the cost of reading a version file. Requests are answered in order,
// so they are pipelined.
import { CommandError } from '../util/exec.js'

export interface GitObject {
  oid: string
  type: string
  data: Buffer
}

interface Pending {
  resolve(object: GitObject | undefined): void
  reject(error: Error): void
}

// "<oid> <type> <size>"; anything else (`<spec> missing`, `<spec> ambiguous`) means no object.
const headerPattern = /^([0-9a-f]{40,64}) (\w+) (\d+)$/

/** The protocol of `git cat-file --batch`: requests go to `write`, its output comes to feed(). */
export class ObjectReader {
  private readonly pending: Pending[] = []
  private buffer: Buffer = Buffer.alloc(0)
  private failure: Error | undefined
  /** cat-file's output is over: what follows belongs to whoever started it. */
  ended = false

  constructor(
    readonly dir: string,
    private readonly write: (line: string) => void,
    /** Called with the rest of the output when a line starting with \035 comes where an answer would start. */
    private readonly onEnd: (rest: Buffer) => void = () => {},
  ) {}

  /** Requests not answered yet. */
  get waiting(): number {
    return this.pending.length
  }

  /** The object named by `spec` (`<rev>:<path>`, `<rev>^{tree}`, an oid), undefined when there is none. */
  read(spec: string): Promise<GitObject | undefined> {
    if (this.failure) return Promise.reject(this.failure)
    if (spec.includes('\n') || spec.startsWith('\x1d')) return Promise.resolve(undefined) // cannot be asked, cannot exist
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject })
      this.write(`${spec}\n`)
    })
  }

  feed(chunk: Buffer): void {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk
    for (;;) {
      // No answer starts with a control character: this is the end marker of lib/git/gitShell.ts.
      if (this.buffer[0] === 0x1d) {
        this.ended = true
        const rest = this.buffer
        this.buffer = Buffer.alloc(0)
        return this.onEnd(rest)
      }
      if (!this.pending.length) return
      const eol = this.buffer.indexOf(10)
      if (eol < 0) return
      const header = headerPattern.exec(this.buffer.subarray(0, eol).toString())
      if (!header) {
        this.buffer = this.buffer.subarray(eol + 1)
        this.pending.shift()!.resolve(undefined)
        continue
      }
      const end = eol + 1 + Number(header[3])
      if (this.buffer.length < end + 1) return // the object and its trailing newline are not all here yet
      const data = Buffer.from(this.buffer.subarray(eol + 1, end))
      this.buffer = this.buffer.subarray(end + 1)
      this.pending.shift()!.resolve({ oid: header[1]!, type: header[2]!, data })
    }
  }

  /** git has ended: every request waiting, and every later one, fails with `error`. */
  fail(error: Error): void {
    this.failure ??= error
    for (const waiting of this.pending.splice(0)) waiting.reject(this.failure)
  }
}

/** Entries of a tree object: `<mode> <name>\0<binary oid>` each. */
function treeEntries(tree: GitObject): { name: string; isTree: boolean; oid: string }[] {
  const oidBytes = tree.oid.length / 2
  const entries = []
  let at = 0
  while (at < tree.data.length) {
    const space = tree.data.indexOf(32, at)
    const nul = tree.data.indexOf(0, space)
    const mode = tree.data.subarray(at, space).toString()
    entries.push({ name: tree.data.subarray(space + 1, nul).toString(), isTree: mode === '40000', oid: tree.data.subarray(nul + 1, nul + 1 + oidBytes).toString('hex') })
    at = nul + 1 + oidBytes
  }
  return entries
}

/**
 * Paths of everything but directories at `revision` (what `git ls-tree -r --name-only` lists),
 * down to `depth` path components: version files are looked for near the root only.
 */
export async function listFiles(reader: ObjectReader, revision: string, depth: number): Promise<string[]> {
  const files: string[] = []
  const walk = async (spec: string, prefix: string, level: number): Promise<void> => {
    const tree = await reader.read(spec)
    if (!tree || tree.type !== 'tree') throw new CommandError(['git', '-C', reader.dir, 'cat-file', spec], { exitCode: 128, stdout: '', stderr: `fatal: not a tree object: ${spec}` })
    const subtrees: Promise<void>[] = []
    for (const entry of treeEntries(tree)) {
      if (!entry.isTree) files.push(prefix + entry.name)
      else if (level < depth) subtrees.push(walk(entry.oid, `${prefix}${entry.name}/`, level + 1))
    }
    await Promise.all(subtrees)
  }
  await walk(`${revision}^{tree}`, '', 1)
  return files.sort()
}
