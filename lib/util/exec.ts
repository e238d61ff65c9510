// Running external programs (docker, git, tar2sqfs, ...): every command is echoed with -v,
// credentials masked, and ended on Ctrl-C. Commands whose output is captured go through zx's
// $ (shell.ts), like a site task's; a program whose streams the caller owns (a docker export
// piped into tar2sqfs, gigabytes) is spawned here directly, since zx keeps every byte a
// process prints in memory.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import type { RunOptions, RunResult } from './commandResult.js'
import { ui } from './ui.js'

export { CommandError, NotInstalledError, lastLines, notInstalled, reasonLine, saysNotFound, type RunOptions, type RunResult } from './commandResult.js'

/** Start a program with the command echoed (-v). The caller owns its streams. */
export function start(program: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  ui.command([program, ...args], typeof options.cwd === 'string' ? options.cwd : undefined)
  return spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options })
}

/**
 * Run a program to completion, capturing its output, through zx's `$` (shell.ts), loaded with
 * the first command: every argument one word, quoted by zx.
 */
export async function run(program: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return (await import('./shell.js')).runArgv(program, args, options)
}

/** Is `program` on the PATH? */
export async function isInstalled(program: string): Promise<boolean> {
  // A plain PATH lookup: importing zx for its `which` took 145 ms, on the way of every conversion.
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    const path = join(dir || '.', program)
    try {
      accessSync(path, constants.X_OK)
      return statSync(path).isFile()
    } catch {
      return false
    }
  })
}
