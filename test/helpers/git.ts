// Git remotes for release-plan tests: bare repositories (used through file:// URLs) filled
// from a scratch working clone, with BrainVISA-like version files.
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'

const identity = { GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 'test@example.org', GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 'test@example.org' }

export function git(args: readonly string[], cwd?: string): string {
  return execFileSync('git', args, { cwd, env: { ...process.env, ...identity }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim()
}

export const cmakeVersion = (v: string) => {
  const [major, minor, patch] = v.split('.')
  return `cmake_minimum_required( VERSION 3.10 )\nset( BRAINVISA_PACKAGE_NAME demo )\nset( BRAINVISA_PACKAGE_MAIN_PROJECT demo )\nset( BRAINVISA_PACKAGE_VERSION_MAJOR ${major} )\nset( BRAINVISA_PACKAGE_VERSION_MINOR ${minor} )\nset( BRAINVISA_PACKAGE_VERSION_PATCH ${patch} )\n`
}
export const infoPyVersion = (v: string) => {
  const [major, minor, micro] = v.split('.')
  return `# demo package info\nversion_major = ${major}\nversion_minor = ${minor}\nversion_micro = ${micro}\nversion_extra = ''\n__version__ = "%s.%s.%s" % (version_major, version_minor, version_micro)\n`
}
export const packageJsonVersion = (v: string) => `${JSON.stringify({ name: 'demo', version: v, private: true }, null, 2)}\n`
export const pyprojectVersion = (v: string) => `[project]\nname = "demo"\nversion = "${v}"\n\n[tool.other]\nversion = "0.0.0"\n`

export class TestRemote {
  readonly bare: string
  readonly url: string
  private readonly work: string

  constructor(root: string, readonly name: string) {
    this.bare = join(root, 'remotes', `${name}.git`)
    this.work = join(root, 'work', name)
    this.url = pathToFileURL(this.bare).href
    mkdirSync(this.bare, { recursive: true })
    git(['init', '--quiet', '--bare', '-b', 'master', this.bare])
    git(['clone', '--quiet', this.url, this.work])
  }

  /** Commit `files` on `branch` (created from `from`, default its current state) and push it. */
  commit(branch: string, files: Record<string, string>, options: { from?: string; message?: string } = {}): string {
    const exists = git(['branch', '--list', branch], this.work) !== ''
    if (options.from) git(['checkout', '--quiet', '-B', branch, options.from], this.work)
    else if (exists) git(['checkout', '--quiet', branch], this.work)
    else git(['checkout', '--quiet', '--orphan', branch], this.work)
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(this.work, path)), { recursive: true })
      writeFileSync(join(this.work, path), text)
    }
    git(['add', '-A'], this.work)
    git(['commit', '--quiet', '--allow-empty', '-m', options.message ?? `change ${branch}`], this.work)
    git(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`], this.work)
    return git(['rev-parse', 'HEAD'], this.work)
  }

  /** Point `branch` (or `refs/tags/x`) of the remote at `revision`. */
  setRef(ref: string, revision: string): void {
    git(['push', '--quiet', '--force', 'origin', `${revision}:${ref.startsWith('refs/') ? ref : `refs/heads/${ref}`}`], this.work)
  }

  /** refname -> commit (tags peeled) of the bare remote. */
  refs(): Record<string, string> {
    const out = git(['for-each-ref', '--format=%(refname) %(objectname) %(*objectname)'], this.bare)
    return Object.fromEntries(out.split('\n').filter(Boolean).map((l) => { const [r, o, p] = l.split(' '); return [r!, p || o!] }))
  }

  show(revision: string, file: string): string {
    return git(['show', `${revision}:${file}`], this.bare)
  }

  log(branch: string): string[] {
    return git(['log', '--format=%s', branch], this.bare).split('\n')
  }
}
