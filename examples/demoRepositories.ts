// The git components of the demo's release plan: local bare repositories made once, each in
// a state a release manager meets (work to do, nothing to do, a tag already there, ignored).
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

interface Commit {
  files: Record<string, string>
  message: string
}

interface ComponentSeed {
  project: string
  name: string
  /** Commits on master, in order. */
  history: Commit[]
  /** How many of master's first commits latest_release holds. */
  released: number
  tags?: string[]
}

const cmakeVersion = (major: number, minor: number, patch: number) =>
  [
    `set( BRAINVISA_PACKAGE_VERSION_MAJOR ${major} )`,
    `set( BRAINVISA_PACKAGE_VERSION_MINOR ${minor} )`,
    `set( BRAINVISA_PACKAGE_VERSION_PATCH ${patch} )`,
    '',
  ].join('\n')

const seeds: ComponentSeed[] = [
  {
    // A fix on master since the last release, version not bumped yet: 1.0.1 is to be released.
    project: 'demo',
    name: 'casa-core',
    history: [
      { files: { 'project_info.cmake': cmakeVersion(1, 0, 0), 'core.c': 'int main(void) { return 0; }\n' }, message: 'casa-core 1.0.0' },
      { files: { 'core.c': 'int main(void) { return 0; } /* fixed */\n' }, message: 'fix the core' },
    ],
    released: 1,
  },
  {
    // Released and untouched since: nothing to do.
    project: 'demo',
    name: 'casa-tools',
    history: [{ files: { 'python/casa_tools/info.py': 'version_major = 2\nversion_minor = 3\nversion_micro = 0\n' }, message: 'casa-tools 2.3.0' }],
    released: 1,
  },
  {
    // A new minor version on master, and the old release already tagged.
    project: 'web',
    name: 'casa-viewer',
    history: [
      { files: { 'package.json': '{ "name": "casa-viewer", "version": "2.0.0" }\n' }, message: 'casa-viewer 2.0.0' },
      { files: { 'package.json': '{ "name": "casa-viewer", "version": "2.1.0" }\n' }, message: 'casa-viewer 2.1.0' },
    ],
    released: 1,
    tags: ['2.0.0'],
  },
  {
    // Left out by the workflow repository's release_plan_decisions.yaml.
    project: 'legacy',
    name: 'old-toolbox',
    history: [{ files: { 'project_info.cmake': cmakeVersion(0, 9, 0) }, message: 'old-toolbox 0.9.0' }],
    released: 0,
  },
]

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'casa demo',
  GIT_AUTHOR_EMAIL: 'demo@casa.invalid',
  GIT_COMMITTER_NAME: 'casa demo',
  GIT_COMMITTER_EMAIL: 'demo@casa.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitEnv, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

/** Creates the bare repositories under `gitRoot/<project>/<name>.git` that do not exist yet. */
export function ensureDemoRepositories(gitRoot: string): string[] {
  const created: string[] = []
  for (const seed of seeds) {
    const bare = join(gitRoot, seed.project, `${seed.name}.git`)
    if (existsSync(bare)) continue
    const work = mkdtempSync(join(tmpdir(), 'casa-demo-git-'))
    const partial = `${bare}.partial`
    try {
      git(work, 'init', '-q', '-b', 'master')
      seed.history.forEach((commit, index) => {
        for (const [path, text] of Object.entries(commit.files)) {
          mkdirSync(dirname(join(work, path)), { recursive: true })
          writeFileSync(join(work, path), text)
        }
        git(work, 'add', '-A')
        git(work, 'commit', '-q', '-m', commit.message)
        if (index + 1 === seed.released) git(work, 'branch', 'latest_release')
        if (index + 1 === seed.released) for (const tag of seed.tags ?? []) git(work, 'tag', tag)
      })
      rmSync(partial, { recursive: true, force: true })
      mkdirSync(dirname(bare), { recursive: true })
      git(work, 'clone', '-q', '--bare', work, partial)
      // Made under a temporary name: an interrupted demo never leaves a half-made repository.
      renameSync(partial, bare)
      created.push(bare)
    } finally {
      rmSync(work, { recursive: true, force: true })
      rmSync(partial, { recursive: true, force: true })
    }
  }
  return created
}
