// Running the real `casa_distro_admin` command (compiled) as a user would.
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { packageRoot } from '../../lib/util/paths.js'

/** This checkout, whether the helpers run from sources (tests) or from dist/ (the demo). */
export const projectRoot = packageRoot
export const binPath = join(projectRoot, 'bin', 'casa_distro_admin.js')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

export interface CliOptions {
  env?: Record<string, string | undefined>
  cwd?: string
  input?: string
  /** Kill the process with this signal after `afterMs`. */
  kill?: { signal: NodeJS.Signals; afterMs: number }
}

/** Run a program to completion and collect its output (never throws on a non-zero exit). */
export function runProgram(program: string, args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      cwd: options.cwd ?? projectRoot,
      env: { ...process.env, NO_COLOR: '1', CI: 'true', ...options.env },
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (c) => (stdout += c))
    child.stderr!.on('data', (c) => (stderr += c))
    if (options.input !== undefined) child.stdin!.end(options.input)
    if (options.kill) setTimeout(() => child.kill(options.kill!.signal), options.kill.afterMs)
    child.on('error', reject)
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }))
  })
}

/** `casa_distro_admin ...args` with a private HOME unless one is given. */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return runProgram(process.execPath, [binPath, ...args], options)
}
