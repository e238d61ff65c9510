// The judge of SIF signatures: test/sifjudge/main.go, a small program over the SIF library's own
// pkg/integrity (what `apptainer sign` and `apptainer verify` run), built once from Debian's
// golang-go and golang-github-sylabs-sif-dev into node_modules/.cache (rebuilt when main.go
// changes). GOPATH mode: the library's module path ends in /v2, so a GOPATH holding a link
// src/github.com/sylabs/sif/v2 -> the Debian sources makes the import resolve.
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, renameSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot } from './cli.js'

const gocode = '/usr/share/gocode/src'
const source = join(projectRoot, 'test', 'sifjudge', 'main.go')

export function sifJudge(): string {
  const version = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 12)
  const cache = join(projectRoot, 'node_modules', '.cache', 'casa-sifjudge')
  const binary = join(cache, `sifjudge-${version}`)
  if (existsSync(binary)) return binary
  if (!existsSync(join(gocode, 'github.com/sylabs/sif/pkg/integrity'))) throw new Error('golang-github-sylabs-sif-dev is not installed: run scripts/install-deps.sh')
  const gopath = join(cache, 'gopath')
  const link = join(gopath, 'src', 'github.com', 'sylabs', 'sif', 'v2')
  if (!existsSync(link)) {
    mkdirSync(join(gopath, 'src', 'github.com', 'sylabs', 'sif'), { recursive: true })
    try {
      symlinkSync(join(gocode, 'github.com', 'sylabs', 'sif'), link)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
  }
  // Built under a name of its own and renamed: two test files may build it at once.
  const temporary = `${binary}.tmp-${process.pid}`
  execFileSync('go', ['build', '-o', temporary, source], {
    cwd: join(projectRoot, 'test', 'sifjudge'),
    env: { ...process.env, GO111MODULE: 'off', GOPATH: `${gopath}:/usr/share/gocode`, GOCACHE: join(cache, 'gocache'), GOFLAGS: '' },
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  renameSync(temporary, binary)
  return binary
}

export interface JudgeResult {
  code: number
  output: string
}

/** Run the judge: `genkey NAME DIR`, `sign SIF KEYRING`, `verify SIF KEYRING`. */
export function judge(...args: string[]): JudgeResult {
  const result = spawnSync(sifJudge(), args, { encoding: 'utf8' })
  return { code: result.status ?? 1, output: `${result.stdout}${result.stderr}` }
}
