// Component versions: which file of a component holds its version (project_info.cmake,
// a python info.py, package.json or pyproject.toml), reading the version out of it, and
// writing a new one back (for apply_release_plan's set_version). Versions compare as
// major.minor.patch numbers.
import { UserError } from '../util/errors.js'
import { listFiles, type ObjectReader } from '../git/gitObjects.js'

/** This module, whose code decides versions: lib/release/versionCache.ts stamps cached answers with it. */
export const versionRulesModule = import.meta.url

export type VersionFileKind = 'project_info.cmake' | 'info.py' | 'package.json' | 'pyproject.toml'

export interface Version {
  major: number
  minor: number
  patch: number
}

export const formatVersion = (v: Version): string => `${v.major}.${v.minor}.${v.patch}`

export function parseVersion(text: string): Version | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)$/.exec(text.trim())
  return match ? { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) } : undefined
}

export function compareVersions(a: Version, b: Version): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch
}

export function kindOf(file: string): VersionFileKind | undefined {
  const base = file.split('/').pop() ?? ''
  if (base === 'project_info.cmake') return 'project_info.cmake'
  if (base.endsWith('info.py')) return 'info.py'
  if (base === 'package.json') return 'package.json'
  if (base === 'pyproject.toml') return 'pyproject.toml'
  return undefined
}

/** How deep (in path components) chooseVersionFile looks: deeper files never matter. */
export const versionFileDepth = 3

/** The version file of a tree, in the original's order of preference; info.py at most 3 levels deep. */
export function chooseVersionFile(files: readonly string[]): string | undefined {
  const has = new Set(files)
  if (has.has('project_info.cmake')) return 'project_info.cmake'
  const infos = files.filter((f) => /(^|\/)info\.py$/.test(f) && f.split('/').length <= versionFileDepth && !/(^|\/)(tests?|doc|docs)\//.test(f))
  infos.sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b))
  if (infos[0]) return infos[0]
  if (has.has('package.json')) return 'package.json'
  if (has.has('pyproject.toml')) return 'pyproject.toml'
  return undefined
}

const cmakeKey = (part: string) => new RegExp(`(set\\s*\\(\\s*BRAINVISA_PACKAGE_VERSION_${part}\\s+)"?(\\d+)"?(\\s*\\))`, 'i')
const pythonKey = (part: string) => new RegExp(`^(\\s*version_${part}\\s*=\\s*)(\\d+)`, 'm')
const tomlVersion = /^(\s*version\s*=\s*)(["'])([^"']*)\2/m
const jsonVersion = /("version"\s*:\s*)"([^"]*)"/

/** The version written in a version file, or a one-line reason why there is none. */
export function readVersion(kind: VersionFileKind, text: string): Version {
  const numbers = (keys: readonly RegExp[]) => {
    const values = keys.map((k) => k.exec(text)?.[2])
    if (values.some((v) => v === undefined)) return undefined
    return { major: Number(values[0]), minor: Number(values[1]), patch: Number(values[2]) }
  }
  let found: Version | undefined
  let raw: string | undefined
  switch (kind) {
    case 'project_info.cmake':
      found = numbers(['MAJOR', 'MINOR', 'PATCH'].map(cmakeKey))
      if (!found) throw new UserError('no BRAINVISA_PACKAGE_VERSION_MAJOR/MINOR/PATCH numbers')
      return found
    case 'info.py':
      found = numbers(['major', 'minor', 'micro'].map(pythonKey))
      if (!found) throw new UserError('no version_major/version_minor/version_micro numbers')
      return found
    case 'package.json': {
      let data: unknown
      try {
        data = JSON.parse(text)
      } catch {
        throw new UserError('not valid JSON')
      }
      raw = (data as { version?: unknown }).version as string | undefined
      if (typeof raw !== 'string') throw new UserError('no "version" string')
      break
    }
    case 'pyproject.toml':
      raw = tomlVersion.exec(text)?.[3]
      if (raw === undefined) throw new UserError('no version = "..." line')
      break
  }
  found = parseVersion(raw.replace(/[-+].*$/, ''))
  if (!found) throw new UserError(`version "${raw}" is not major.minor.patch`)
  return found
}

/** `text` with its version replaced by `version`, the rest of the file untouched. */
export function writeVersion(kind: VersionFileKind, text: string, version: Version): string {
  readVersion(kind, text) // refuse files we could not read back
  switch (kind) {
    case 'project_info.cmake':
      return (['MAJOR', 'MINOR', 'PATCH'] as const).reduce((t, part, i) => t.replace(cmakeKey(part), (_m, a: string, _v, b: string) => `${a}${[version.major, version.minor, version.patch][i]}${b}`), text)
    case 'info.py':
      return (['major', 'minor', 'micro'] as const).reduce((t, part, i) => t.replace(pythonKey(part), (_m, a: string) => `${a}${[version.major, version.minor, version.patch][i]}`), text)
    case 'package.json':
      return text.replace(jsonVersion, (_m, a: string) => `${a}"${formatVersion(version)}"`)
    case 'pyproject.toml':
      return text.replace(tomlVersion, (_m, a: string, q: string) => `${a}${q}${formatVersion(version)}${q}`)
  }
}

export interface BranchVersion {
  file: string
  version: Version
}

/** Why a tree has no readable version: follows from the tree alone, so it can be cached by revision. */
export class VersionError extends UserError {
  override name = 'VersionError'
}

/** Find and read the version of a mirror's tree at `revision` (`versionFile` forces the file). */
export async function versionAt(mirror: ObjectReader, revision: string, versionFile?: string): Promise<BranchVersion> {
  const file = versionFile ?? chooseVersionFile(await listFiles(mirror, revision, versionFileDepth))
  if (!file) throw new VersionError('no version file (project_info.cmake, info.py, package.json or pyproject.toml)')
  const kind = kindOf(file)
  if (!kind) throw new VersionError(`${file}: unknown kind of version file`)
  const object = await mirror.read(`${revision}:${file}`)
  if (!object) throw new VersionError(`${file} does not exist`)
  if (object.type !== 'blob') throw new VersionError(`${file} is not a file`)
  try {
    return { file, version: readVersion(kind, object.data.toString('utf8')) }
  } catch (error) {
    throw new VersionError(`${file}: ${(error as Error).message}`)
  }
}
