// Release-plan components for the benchmark: bare git repositories with a realistic shape
// (a history of commits touching sources and the version file, latest_release behind master,
// some release candidates, annotated and lightweight version tags, a feature branch), written
// with one `git fast-import` each: building 100 of them through a working clone and pushes
// (test/helpers/git.ts's TestRemote) costs thousands of git processes before measuring anything.
import { execFileSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { cmakeVersion, infoPyVersion, packageJsonVersion, pyprojectVersion } from '../test/helpers/git.js'

export interface BenchComponent {
  project: string
  name: string
  url: string
  /** What the plan must say: the bug_fix (master) version and the file it is read from. */
  bugFixVersion: string
  versionFile: string
  /** Every ref of the bare repository (refs/heads/..., refs/tags/...). */
  refCount: number
}

const kinds = [
  ['project_info.cmake', cmakeVersion],
  ['python/NAME/info.py', infoPyVersion],
  ['package.json', packageJsonVersion],
  ['pyproject.toml', pyprojectVersion],
] as const

/** A few kB of deterministic source text, different per component, file and commit. */
function source(component: number, file: number, commit: number): string {
  const lines: string[] = []
  for (let l = 0; l < 60 + ((component * 7 + file * 13) % 80); l++) lines.push(`def f_${component}_${file}_${l}(x):  # revision ${commit}\n    return x * ${(component + 1) * (l + 3)} + ${file}\n`)
  return lines.join('')
}

const data = (text: string) => `data ${Buffer.byteLength(text)}\n${text}\n`

/** Component `i`: 8 commits on master, versions 1.i.0 then 1.i.1 (at commit 4) then 1.i.2 (at 7). */
function fastImportStream(i: number, name: string): { stream: string; bugFixVersion: string; versionFile: string; refCount: number } {
  const [pathTemplate, write] = kinds[i % kinds.length]!
  const versionFile = pathTemplate.replace('NAME', name.replace(/-/g, '_'))
  const out: string[] = []
  let time = 1_700_000_000 + i * 1000
  const who = () => `Bench <bench@example.org> ${(time += 60)} +0000`
  const versionAt = (c: number) => `1.${i}.${c < 4 ? 0 : c < 7 ? 1 : 2}`
  for (let c = 1; c <= 8; c++) {
    out.push(`commit refs/heads/master\nmark :${c}\ncommitter ${who()}\n${data(`change ${c} of ${name}`)}`)
    if (c > 1) out.push(`from :${c - 1}\n`)
    if (c === 1 || c === 4 || c === 7) out.push(`M 100644 inline ${versionFile}\n${data(write(versionAt(c)))}`)
    if (c === 1) out.push(`M 100644 inline README.md\n${data(`# ${name}\n`)}`)
    for (let f = 0; f < 6; f++) if (c === 1 || (c + f) % 3 === 0) out.push(`M 100644 inline src/module${f}.py\n${data(source(i, f, c))}`)
  }
  // latest_release at the 1.i.1 release (commit 4, tagged), an older lightweight tag at commit 1.
  out.push(`reset refs/heads/latest_release\nfrom :4\n\n`)
  out.push(`tag ${versionAt(4)}\nfrom :4\ntagger ${who()}\n${data(`release ${versionAt(4)}`)}`)
  out.push(`reset refs/tags/v${versionAt(1)}\nfrom :1\n\n`)
  let refCount = 4
  // Every third component has a release candidate left over; every fifth is already released.
  if (i % 3 === 0) (out.push(`reset refs/heads/release_candidate\nfrom :6\n\n`), refCount++)
  if (i % 5 === 0) out.push(`reset refs/heads/latest_release\nfrom :8\n\n`)
  out.push(`commit refs/heads/feature/${name}\nmark :9\ncommitter ${who()}\n${data('work in progress')}from :5\nM 100644 inline src/feature.py\n${data(source(i, 9, 9))}`)
  return { stream: out.join(''), bugFixVersion: versionAt(8), versionFile, refCount: refCount + 1 }
}

/** Write `count` bare repositories under `dir`, served as file:// URLs. */
export function makeComponents(dir: string, count: number): BenchComponent[] {
  const components: BenchComponent[] = []
  for (let i = 0; i < count; i++) {
    const name = `component-${String(i).padStart(3, '0')}`
    const bare = join(dir, `${name}.git`)
    mkdirSync(bare, { recursive: true })
    execFileSync('git', ['init', '--quiet', '--bare', '--template=', '-b', 'master', bare])
    const { stream, bugFixVersion, versionFile, refCount } = fastImportStream(i, name)
    execFileSync('git', ['-c', 'fastimport.unpackLimit=0', 'fast-import', '--quiet'], { cwd: bare, input: stream, env: { ...process.env, GIT_DIR: bare } })
    components.push({ project: `project-${i % 10}`, name, url: pathToFileURL(bare).href, bugFixVersion, versionFile, refCount })
  }
  return components
}
