// The versions of a mirror's revisions, remembered between inspections: a branch whose commit
// has not moved needs no git process at all on the next run. They are kept in the mirror
// (`casa-versions.json`, a file git ignores), so wiping the cache wipes them too; keyed by
// commit and forced version file, and stamped with the code of the version rules, so that a
// changed rule never reuses an old answer. Only answers that follow from the tree are kept,
// never a failure of git itself.
import { createHash } from 'node:crypto'
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { formatVersion, versionAt, VersionError, versionRulesModule } from './componentVersion.js'
import { errorMessage } from './errors.js'
import type { ObjectReader } from './gitObjects.js'

export type RevisionVersion = { version: string; versionFile: string } | { versionError: string }

const cacheFileName = 'casa-versions.json'

let stamp: string | null | undefined
/** A digest of the module holding the version rules; undefined (no caching) when it cannot be read. */
function rulesStamp(): string | undefined {
  if (stamp === undefined) {
    try {
      stamp = createHash('sha256').update(readFileSync(fileURLToPath(versionRulesModule))).digest('hex')
    } catch {
      stamp = null
    }
  }
  return stamp ?? undefined
}

function load(file: string, rules: string | undefined): Record<string, RevisionVersion> {
  if (!rules) return {}
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { rules?: string; versions?: Record<string, RevisionVersion> }
    return data.rules === rules && data.versions && typeof data.versions === 'object' ? data.versions : {}
  } catch {
    return {} // absent or damaged: read the versions again
  }
}

/** Best effort: a cache that cannot be written only means reading again next time. */
function save(file: string, rules: string, versions: Record<string, RevisionVersion>): void {
  const temporary = `${file}.tmp-${process.pid}`
  try {
    writeFileSync(temporary, JSON.stringify({ rules, versions }))
    renameSync(temporary, file)
  } catch {
    rmSync(temporary, { force: true })
  }
}

/** The version (or why there is none) at each of `revisions` of `mirror`; `objects` is asked only for what is not cached. */
export async function revisionVersions(mirror: string, revisions: readonly string[], versionFile: string | undefined, objects: () => ObjectReader): Promise<Map<string, RevisionVersion>> {
  const rules = rulesStamp()
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
  if (rules && !unchanged) save(file, rules, kept)
  return found
}
