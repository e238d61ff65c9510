// What the processes a run started had on their command lines, as another user would read
// them in ps: /proc/<pid>/cmdline of the run and its descendants only (tests run in parallel,
// the rest of the machine is not ours to judge). Linux only.
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { binPath, projectRoot, type CliResult } from './cli.js'

/** The pids of `root` and all its descendants now, from the parent pid in /proc/<pid>/stat. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
    } catch {
      continue // gone meanwhile
    }
    // `pid (comm) state ppid ...`: comm may hold spaces and parentheses, so read past the last ')'
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    const list = children.get(ppid) ?? []
    list.push(Number(entry))
    children.set(ppid, list)
  }
  const found: number[] = []
  const queue = [root]
  while (queue.length > 0) {
    const pid = queue.shift()!
    found.push(pid)
    queue.push(...(children.get(pid) ?? []))
  }
  return found
}

/** Collects the command lines of a process tree, sampled on demand and every few milliseconds. */
export class CommandLineSampler {
  readonly seen = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  constructor(private readonly root: number) {}

  /** Read the command line of every process of the tree now (call it when a server sees a connection: its client is alive then). */
  sample(): void {
    for (const pid of descendants(this.root)) {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim()
        if (cmdline) this.seen.add(cmdline)
      } catch {
        // exited meanwhile
      }
    }
  }

  start(intervalMs = 10): void {
    this.sample()
    this.timer = setInterval(() => this.sample(), intervalMs)
  }

  stop(): void {
    clearInterval(this.timer)
  }
}

export interface WatchedResult extends CliResult {
  /** Every command line seen in the run's process tree. */
  commandLines: string[]
}

/** The samplers of the runs in progress, for servers to sample at the moment a client connects. */
export const activeSamplers = new Set<CommandLineSampler>()

/** `casa_distro_admin ...args`, with the command lines of its process tree sampled while it runs. */
export function runCliWatched(args: readonly string[], env: Record<string, string | undefined>): Promise<WatchedResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [binPath, ...args], {
      cwd: projectRoot,
      env: { ...process.env, NO_COLOR: '1', CI: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const sampler = new CommandLineSampler(child.pid!)
    activeSamplers.add(sampler)
    sampler.start()
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (c) => (stdout += c))
    child.stderr!.on('data', (c) => (stderr += c))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      sampler.stop()
      activeSamplers.delete(sampler)
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, commandLines: [...sampler.seen] })
    })
  })
}
