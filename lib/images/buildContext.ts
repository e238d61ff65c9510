// The build context of one image: the files of its definition (not the YAML), `*.template`
// files templated with the image's parameters and renamed without the suffix. The same list
// gives the context digest (the incremental-build key, computed without writing anything)
// and the staged copy in a temporary directory that `docker build` reads.
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, readlinkSync, statSync } from 'node:fs'
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { CatalogImage } from './imageCatalog.js'
import { definitionFileName } from './imageDefinitionFile.js'
import { applyTemplate } from './imageTemplate.js'
import { UserError } from '../util/errors.js'
import { removeDeadMatching } from '../util/leftovers.js'
import { printable, ui } from '../util/ui.js'

export interface ContextFile {
  /** Path inside the context, `/`-separated. */
  path: string
  /** Executable bit kept; other mode bits are normalised (as docker's cache ignores them too). */
  executable: boolean
  content?: Buffer
  /** Target of a symbolic link. */
  link?: string
}

const templateSuffix = '.template'

/**
 * The files of an image's context, sorted, templates applied. Read with synchronous calls on
 * purpose: contexts are small files, and planning a large catalog spends far less time this
 * way than queueing thousands of tiny reads on libuv's thread pool.
 */
export async function contextFiles(image: CatalogImage): Promise<ContextFile[]> {
  const root = image.definition.dir
  const files: ContextFile[] = []
  const walk = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name
      const full = join(dir, entry.name)
      if (!prefix && entry.name === definitionFileName) continue
      if (entry.isDirectory()) walk(full, path)
      else if (entry.isSymbolicLink()) files.push({ path, executable: false, link: readlinkSync(full) })
      else if (entry.isFile()) {
        const executable = (statSync(full).mode & 0o111) !== 0
        if (entry.name.endsWith(templateSuffix) && entry.name.length > templateSuffix.length) {
          const text = applyTemplate(readFileSync(full, 'utf8'), image.parameters, full)
          files.push({ path: path.slice(0, -templateSuffix.length), executable, content: Buffer.from(text) })
        } else files.push({ path, executable, content: readFileSync(full) })
      }
    }
  }
  walk(root, '')
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  for (let i = 1; i < files.length; i++) {
    if (files[i]!.path === files[i - 1]!.path) throw new UserError(`${join(root, files[i]!.path)}: both ${files[i]!.path} and ${files[i]!.path}${templateSuffix} exist in ${root}`)
  }
  const dockerfile = files.find((f) => f.path === 'Dockerfile')
  if (!dockerfile) throw new UserError(`${root}: no Dockerfile (nor Dockerfile.template) in the image definition`)
  // A dangling link would only fail inside docker build, after the bases are built.
  if (dockerfile.link !== undefined && !existsSync(join(root, 'Dockerfile'))) {
    throw new UserError(`${root}: no Dockerfile: Dockerfile is a symbolic link to ${dockerfile.link}, which does not exist`)
  }
  return files
}

/** sha256 over paths, executable bits, link targets and contents. */
export function contextDigest(files: readonly ContextFile[]): string {
  const hash = createHash('sha256')
  for (const file of files) {
    hash.update(`${file.path}\0${file.executable ? 'x' : '-'}\0`)
    if (file.link !== undefined) hash.update(`link\0${file.link}\0`)
    else {
      hash.update(`${file.content!.length}\0`)
      hash.update(file.content!)
    }
  }
  return `sha256:${hash.digest('hex')}`
}

/**
 * Write the context into a fresh temporary directory, named with our pid; the caller removes
 * it. Those of runs killed before they could (their pid gone) are removed first.
 */
export async function stageContext(files: readonly ContextFile[]): Promise<string> {
  for (const path of removeDeadMatching(tmpdir(), /^casa-docker-context-(?<pid>\d+)-[A-Za-z0-9]{6}$/)) {
    ui.info(printable(`removed ${path}, the build context of a run that was killed`))
  }
  const dir = await mkdtemp(join(tmpdir(), `casa-docker-context-${process.pid}-`))
  try {
    for (const file of files) {
      const target = join(dir, file.path)
      await mkdir(dirname(target), { recursive: true })
      if (file.link !== undefined) await symlink(file.link, target)
      else {
        await writeFile(target, file.content!)
        await chmod(target, file.executable ? 0o755 : 0o644)
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  return dir
}

/**
 * The images a Dockerfile reads (`FROM x [AS y]`, `COPY --from=x`; stages and `scratch` left out),
 * with `ARG` defaults declared before the first FROM substituted as docker does.
 */
export function baseImages(dockerfile: string): string[] {
  const args = new Map<string, string>()
  const stages = new Set<string>()
  const bases: string[] = []
  let seenFrom = false
  const lines = dockerfile.replace(/\\\r?\n/g, ' ').split(/\r?\n/)
  for (const raw of lines) {
    const line = raw.trim()
    if (!line || line.startsWith('#')) continue
    const [instruction = '', ...rest] = line.split(/\s+/)
    const upper = instruction.toUpperCase()
    if (upper === 'ARG' && !seenFrom) {
      const match = /^(\w+)(?:=(.*))?$/.exec(rest.join(' '))
      if (match?.[2] !== undefined) args.set(match[1]!, match[2].replace(/^["']|["']$/g, ''))
    } else if (upper === 'FROM') {
      seenFrom = true
      const words = rest.filter((w) => !w.startsWith('--'))
      const image = (words[0] ?? '').replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string, b: string) => args.get(a ?? b) ?? '')
      if (image && image !== 'scratch' && !stages.has(image.toLowerCase()) && !bases.includes(image)) bases.push(image)
      if (words[1]?.toUpperCase() === 'AS' && words[2]) stages.add(words[2].toLowerCase())
    } else if (upper === 'COPY') {
      // COPY --from=<image> reads another image (a stage name or index is not one).
      const from = rest.find((w) => w.startsWith('--from='))?.slice('--from='.length)
      if (from && !/^\d+$/.test(from) && !stages.has(from.toLowerCase()) && !bases.includes(from)) bases.push(from)
    }
  }
  return bases
}
