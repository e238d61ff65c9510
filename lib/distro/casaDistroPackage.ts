// The casa-distro user package: `<repository>/casa-distro-<version>.zip`, runnable where only
// Node.js is installed. esbuild bundles the dispatcher, each task and the builtin config from
// the sources (lib/, tasks/, casa.config.ts) with every npm dependency inside; modules shared
// by several tasks go to chunk files (one copy of ui, interrupt handling and config loading,
// so a task and the dispatcher share their state, and the zip stays small).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { rename, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { UserError, cannotRead, errorMessage } from '../util/errors.js'
import { onInterrupt } from '../util/interrupt.js'
import { packageRoot, selfModule } from '../util/paths.js'
import { zipArchive, type ZipEntry } from './zipWriter.js'
import { printable } from '../util/ui.js'

export interface PackageResult {
  file: string
  version: string
  bytes: number
  entries: number
  /** The file already held these very bytes (the zip is reproducible), so it was left alone. */
  upToDate: boolean
}

/** `casa-distro-<version>.zip`; the version must be one file-name word (it may come from the command line). */
export function packageFileName(version: string): string {
  // at most 100 characters: the name, with its temporary suffixes, must stay under NAME_MAX (255)
  if (!/^[0-9A-Za-z][0-9A-Za-z._+-]{0,99}$/.test(version)) {
    throw new UserError(`package_version "${version}": expected a version such as 3.0.1 or 3.1.0-rc1 (letters, digits, . _ + -; at most 100)`)
  }
  return `casa-distro-${version}.zip`
}

function listFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (path: string) => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name)
      if (statSync(full).isDirectory()) walk(full)
      else out.push(full)
    }
  }
  if (existsSync(dir)) walk(dir)
  return out
}

const readme = (version: string) => `casa-distro ${version}
====================

The casa-distro admin command, packaged to run with Node.js (>= 20.18) alone: no npm install.

    unzip casa-distro-${version}.zip
    node casa-distro-${version}/bin/casa_distro_admin.js help
    node casa-distro-${version}/bin/casa_distro_admin.js help publish_build_workflows

Every npm dependency is bundled in dist/. share/ holds the builtin image definitions and
casa.config.ts the builtin configuration (the example to copy). A casa.config.ts of your own
is compiled with esbuild when it is installed (npm install -g esbuild); without it, write the
configuration as plain JavaScript (casa.config.mjs, export default {...}) and name it with
--config or $CASA_CONFIG.
`

/** Bundle the sources into the files of the package (paths relative to its top directory). */
export async function bundleFiles(version: string): Promise<ZipEntry[]> {
  const { build } = await import('esbuild')
  const tasks = readdirSync(join(packageRoot, 'tasks')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
  const entryPoints: Record<string, string> = {
    'dist/lib/cli/cli': join(packageRoot, 'lib', 'cli', 'cli.ts'),
    'dist/casa.config': join(packageRoot, 'casa.config.ts'),
  }
  for (const task of tasks) entryPoints[`dist/tasks/${task.slice(0, -3)}`] = join(packageRoot, 'tasks', task)
  let outputFiles
  try {
    ;({ outputFiles } = await build({
      entryPoints,
      outdir: '/casa-package',
      write: false,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      minify: true,
      legalComments: 'none',
      chunkNames: 'dist/chunks/[name]-[hash]',
      logLevel: 'silent',
      // esbuild loads casa.config.ts files when present; its native binary cannot be bundled.
      external: ['esbuild', 'cpu-features', '*.node'],
      // CommonJS dependencies (ssh2) require node builtins and read __dirname: give them both.
      banner: {
        js: `import{createRequire as __casaRequire}from'node:module';import{fileURLToPath as __casaPath}from'node:url';const require=__casaRequire(import.meta.url);const __filename=__casaPath(import.meta.url);const __dirname=__casaPath(new URL('.',import.meta.url));`,
      },
      plugins: [
        {
          name: 'casa-distro-admin-self',
          setup(b) {
            b.onResolve({ filter: /^casa-distro-admin(\/.*)?$/ }, (args) => ({
              path: selfModule(args.path, 'ts'),
            }))
            // A CommonJS package imported with import() and split into a chunk only exports
            // `default` there (esbuild keeps Node's rules): yaml ships an ES module build, use it.
            b.onResolve({ filter: /^yaml$/ }, () => ({ path: join(dirname(createRequire(import.meta.url).resolve('yaml/package.json')), 'browser', 'index.js') }))
          },
        },
      ],
    }))
  } catch (error) {
    const first = (error as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors?.[0]
    throw new UserError(`bundling failed${first ? `: ${first.location ? `${first.location.file}:${first.location.line}: ` : ''}${first.text}` : `: ${errorMessage(error)}`}`)
  }
  const entries: ZipEntry[] = outputFiles.map((file) => {
    let text = file.text
    // Task sources start with a tsx shebang; bundled, they run with plain node.
    text = text.replace(/^#!.*\n/, '')
    return { name: relative('/casa-package', file.path), data: Buffer.from(text) }
  })
  const manifest = { name: 'casa-distro-admin', version, type: 'module', private: true, bin: { casa_distro_admin: 'bin/casa_distro_admin.js' }, engines: { node: '>=20.18' } }
  entries.push(
    { name: 'package.json', data: Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`) },
    { name: 'bin/casa_distro_admin.js', data: Buffer.from(`#!/usr/bin/env node\nimport { main } from '../dist/lib/cli/cli.js'\n\nprocess.exitCode = await main(process.argv.slice(2))\n`), mode: 0o755 },
    { name: 'README.md', data: Buffer.from(readme(version)) },
    { name: 'casa.config.ts', data: readFileSync(join(packageRoot, 'casa.config.ts')) },
  )
  for (const file of listFiles(join(packageRoot, 'share'))) {
    const mode = statSync(file).mode & 0o111 ? 0o755 : 0o644
    entries.push({ name: relative(packageRoot, file), data: readFileSync(file), mode })
  }
  return entries
}

/** Write `<repository>/casa-distro-<version>.zip` (under a temporary name, renamed into place). */
export async function writeCasaDistroPackage(repository: string, version: string): Promise<PackageResult> {
  const file = join(repository, packageFileName(version))
  // Checked before bundling: a mistyped -r is refused rather than created, and a directory
  // where the zip goes is named rather than failing the up-to-date check below.
  const where = statSync(repository, { throwIfNoEntry: false })
  if (!where) throw new UserError(`repository ${printable(repository)} does not exist (-r or repository in casa.config.ts)`)
  if (!where.isDirectory()) throw new UserError(`repository ${printable(repository)} is not a directory`)
  const existing = statSync(file, { throwIfNoEntry: false })
  if (existing && !existing.isFile()) throw new UserError(`${printable(file)} is not a file: remove it first`)
  const top = `casa-distro-${version}`
  const files = await bundleFiles(version)
  const archive = zipArchive(files.map((e) => ({ ...e, name: `${top}/${e.name}` })))
  let old: Buffer | undefined
  try {
    old = existing ? readFileSync(file) : undefined
  } catch (error) {
    throw cannotRead(file, error)
  }
  if (old?.equals(archive)) {
    return { file, version, bytes: archive.length, entries: files.length, upToDate: true }
  }
  const temp = `${file}.tmp-${process.pid}`
  const forget = onInterrupt(() => rm(temp, { force: true }))
  try {
    await writeFile(temp, archive)
    await rename(temp, file)
  } catch (error) {
    // force only ignores ENOENT: under a path that is no directory, rm itself fails
    await rm(temp, { force: true }).catch(() => undefined)
    throw new UserError(printable(`cannot write ${file}: ${errorMessage(error)}`))
  } finally {
    forget()
  }
  return { file, version, bytes: archive.length, entries: files.length, upToDate: false }
}
