// Where things are: the installed package, the user's home, `~` expansion.
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The casa-distro-admin package directory (holding share/ and casa.config.ts), found from this
 * module: the nearest package.json named casa-distro-admin, whether we run from lib/ (sources) or
 * dist/lib/ (compiled, or installed as a dependency).
 */
export const packageRoot: string = (() => {
  const start = dirname(fileURLToPath(import.meta.url))
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && isThisPackage(manifest)) return dir
    if (dirname(dir) === dir) throw new Error(`casa-distro-admin: no package.json above ${start}`)
  }
})()

function isThisPackage(manifest: string): boolean {
  try {
    return JSON.parse(readFileSync(manifest, 'utf8')).name === 'casa-distro-admin'
  } catch {
    return false
  }
}

export const home = (): string => process.env.HOME || homedir()

/** Our per-user cache directory: `$XDG_CACHE_HOME/casa-distro-admin`, else `~/.cache/...`. */
export const userCacheDir = (): string => join(process.env.XDG_CACHE_HOME || join(home(), '.cache'), 'casa-distro-admin')

export function expandHome(path: string): string {
  return path === '~' ? home() : path.startsWith('~/') ? join(home(), path.slice(2)) : path
}

type ExportTarget = string | { types?: string; default?: string }
let exportsMap: Record<string, ExportTarget> | undefined

/**
 * The file that `casa-distro-admin` or `casa-distro-admin/<subpath>` names, by the package's
 * own `exports` (so the names kept for tasks written against older layouts resolve too):
 * `js` the compiled module, `ts` its source. For the bundlers that resolve our package for
 * code outside it (a workflow's casa.config.ts, the casa-distro zip), as Node does.
 */
export function selfModule(specifier: string, kind: 'js' | 'ts'): string {
  exportsMap ??= JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')).exports as Record<string, ExportTarget>
  const subpath = specifier.replace(/^casa-distro-admin\/?/, '')
  const key = subpath ? `./${subpath}` : '.'
  const target = exportsMap[key] ?? exportsMap['./*']!
  const pick = (t: ExportTarget): string => (typeof t === 'string' ? t : kind === 'ts' ? t.types! : t.default!)
  const file = pick(target).replace('*', exportsMap[key] ? '' : subpath)
  return join(packageRoot, file)
}
