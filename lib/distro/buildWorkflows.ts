// Build workflows as the original found them: a directory `<repository>/<distro>/<branch>_<system>/`
// holding `conf/casa_distro.json` (the system is what follows the last `_`), selected by
// shell wildcards on distro, branch and system.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { UserError } from '../util/errors.js'
import { imageFilter } from '../images/imageFilter.js'

export interface BuildWorkflow {
  distro: string
  branch: string
  system: string
  /** `<distro>/<branch>_<system>`, also its path on the hub. */
  path: string
  dir: string
}

const subdirs = (dir: string) => {
  try {
    return readdirSync(dir)
      .filter((n) => !n.startsWith('.') && statSync(join(dir, n)).isDirectory())
      .sort()
  } catch {
    return []
  }
}

export function findBuildWorkflows(repository: string, filters: { distro: string; branch: string; system: string }): BuildWorkflow[] {
  const [distro, branch, system] = (['distro', 'branch', 'system'] as const).map((option) => imageFilter(filters[option], option))
  // a mistyped -r would otherwise read as "no build workflow match"
  const top = statSync(repository, { throwIfNoEntry: false })
  if (!top) throw new UserError(`repository ${repository} does not exist (-r or repository in casa.config.ts)`)
  if (!top.isDirectory()) throw new UserError(`repository ${repository} is not a directory`)
  const found: BuildWorkflow[] = []
  for (const d of subdirs(repository)) {
    if (!distro!.matches(d)) continue
    for (const name of subdirs(join(repository, d))) {
      const underscore = name.lastIndexOf('_')
      if (underscore <= 0) continue
      const b = name.slice(0, underscore)
      const s = name.slice(underscore + 1)
      const dir = join(repository, d, name)
      if (branch!.matches(b) && system!.matches(s) && existsSync(join(dir, 'conf', 'casa_distro.json'))) {
        found.push({ distro: d, branch: b, system: s, path: `${d}/${name}`, dir })
      }
    }
  }
  return found
}
