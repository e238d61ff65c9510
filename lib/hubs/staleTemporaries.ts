// Temporary files on a hub left by killed runs or dropped connections. The pid in a hub's
// temporary name is another machine's for all we know, so whether its run is alive cannot be
// asked; a live upload writes its file all along, so one not written for an hour is a leftover.
import { errorMessage } from '../util/errors.js'
import { printable, ui } from '../util/ui.js'
import { isTemporaryName, type Hub } from './hub.js'

/** Temporary files older than this are taken for leftovers of a killed run or a dropped connection. */
export const STALE_TEMPORARY_SECONDS = 3600

/**
 * Remove the temporary files of `dir` on `hub` (not recursive) that `ours` accepts (their
 * path given) and that were last written over an hour ago; one that cannot be removed is a
 * warning. Returns the paths removed.
 */
export async function removeStaleTemporaries(hub: Hub, dir: string, ours: (path: string) => boolean, now = Date.now()): Promise<string[]> {
  const removed: string[] = []
  for (const entry of await hub.list(dir)) {
    if (entry.type !== 'file' || !isTemporaryName(entry.path) || !ours(entry.path)) continue
    if (entry.mtime > now / 1000 - STALE_TEMPORARY_SECONDS) continue
    const path = dir === '' ? entry.path : `${dir.replace(/\/+$/, '')}/${entry.path}`
    try {
      await hub.remove(path)
    } catch (error) {
      // what was published is published: a leftover that stays is told, and the others still removed
      ui.warn(`${errorMessage(error)}: a leftover of an earlier run, left behind`)
      continue
    }
    ui.info(printable(`removed ${hub.url}/${path}, a temporary file of an earlier run not written for an hour`))
    removed.push(path)
  }
  return removed
}

/** Whether `path` is a temporary of one of `names` (`.<name>.casa-tmp-<pid>-<id>`), in any directory. */
export function temporaryOfNames(names: Iterable<string>): (path: string) => boolean {
  const set = new Set(names)
  return (path) => {
    const match = /(?:^|\/)\.([^/]+)\.casa-tmp-\d+-[a-z0-9]+$/.exec(path)
    return !!match && set.has(match[1]!)
  }
}
