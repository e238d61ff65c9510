// The versions of a mirror's revisions, remembered between inspections: a branch whose commit
// has not moved needs no git process at all on the next run. They are kept in the mirror
// (`casa-versions.json`, a file git ignores), so wiping the cache wipes them too; keyed by
// commit and forced version file, and stamped with the code of the version rules, so that a
// changed rule never reuses an old answer. Only answers that follow from the tree are kept,
// never a failure of git itself.
import { join } from 'node:path'
import { codeStamp, readCacheFile, writeCacheFile } from '../util/cacheFile.js'
import { formatVersion, versionAt, VersionError, versionRulesModule } from './componentVersion.js'
import { errorMessage } from '../util/errors.js'
import type { ObjectReader } from '../git/gitObjects.js'

export type RevisionVersion = { version: string; versionFile: string } | { versionError: string }

const cacheFileName = 'casa-versions.json'

function load(file: string, rules: string | undefined): Record<string, RevisionVersion> {
  if (!rules) return {}
  const data = readCacheFile(file) as { rules?: string; versions?: Record<string, RevisionVersion> } | undefined
  // absent or damaged, or from other rules: read the versions again
  return data?.rules === rules && data.versions && typeof data.versions === 'object' ? data.versions : {}
}

/** The version (or why there is none) at each of `revisions` of `mirror`; `objects` is asked only for what is not cached. */
export async function revisionVersions(mirror: string, revisions: readonly string[], versionFile: string | undefined, objects: () => ObjectReader): Promise<Map<string, RevisionVersion>> {
  const rules = codeStamp(versionRulesModule)
  const file = join(mirror, cacheFileName)
  const known = load(file, rules)
  const key = (revision: string) => `${revision} ${versionFile ?? ''}`
  const found = new Map<string, RevisionVersion>()
  const kept: Record<string, RevisionVersion> = {}
  await Promise.all(
    [...new Set(revisions)].map(async (revision) => {
      let answer = known[key(revision)]
      if (!answer) {
        try {
          const v = await versionAt(objects(), revision, versionFile)
          answer = { version: formatVersion(v.version), versionFile: v.file }
        } catch (error) {
          if (!(error instanceof VersionError)) return void found.set(revision, { versionError: errorMessage(error) })
          answer = { versionError: error.message }
        }
      }
      found.set(revision, answer)
      kept[key(revision)] = answer
    }),
  )
  // Only the revisions asked for this time are kept: the file stays as small as the branch list.
  const unchanged = Object.keys(kept).length === Object.keys(known).length && Object.keys(kept).every((k) => k in known)
  if (rules && !unchanged) writeCacheFile(file, { rules, versions: kept })
  return found
}
