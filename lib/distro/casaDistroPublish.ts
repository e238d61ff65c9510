// Publishing the casa-distro zip: upload `casa-distro-<version>.zip` to the casa-distro hub,
// then switch `casa-distro.zip` to it in one rename (a symlink, or a copy where the server
// cannot link), so a download of casa-distro.zip gets the old or the new package, never a
// mix. What is already published (same sha256, pointer already there) is left alone.
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { UserError, cannotRead, errorMessage } from '../util/errors.js'
import { packageFileName } from './casaDistroPackage.js'
import { casaDistroZipProblem } from './zipCheck.js'
import { onInterrupt } from '../util/interrupt.js'
import type { Hub } from '../hubs/transport.js'
import { removeStaleTemporaries } from '../hubs/staleTemporaries.js'
import { printable, ui } from '../util/ui.js'

export const pointerName = 'casa-distro.zip'

export interface CasaDistroPublishPlan {
  file: string
  name: string
  sha256: string
  upload: boolean
  switchPointer: boolean
}

export async function localPackage(repository: string, version: string): Promise<{ file: string; sha256: string; size: number; mtime: number }> {
  const file = join(repository, packageFileName(version))
  const info = await stat(file).catch(() => undefined)
  if (!info) throw new UserError(`${printable(file)} does not exist: run package_casa_distro first`)
  if (!info.isFile()) throw new UserError(`${printable(file)} is not a file: remove it and run package_casa_distro`)
  let data
  try {
    data = await readFile(file)
  } catch (error) {
    throw cannotRead(file, error)
  }
  // checked before anything is uploaded or casa-distro.zip switched to it
  const problem = casaDistroZipProblem(data, version)
  if (problem) throw new UserError(printable(`${file}: ${problem}; run package_casa_distro package_version=${version} again`))
  const sha256 = createHash('sha256').update(data).digest('hex')
  return { file, sha256, size: info.size, mtime: Math.floor(info.mtimeMs / 1000) }
}

/** What publishing would do: upload unless the hub holds the same bytes; switch the pointer unless it already points there. */
export async function planCasaDistroPublish(repository: string, version: string, hub: Hub): Promise<CasaDistroPublishPlan> {
  const local = await localPackage(repository, version)
  const name = basename(local.file)
  const [remote, pointer] = await hub.sha256([name, pointerName])
  const link = await hub.readLink(pointerName)
  const pointsThere = link !== undefined ? link === name : pointer === local.sha256
  return { file: local.file, name, sha256: local.sha256, upload: remote !== local.sha256, switchPointer: remote !== local.sha256 || !pointsThere }
}

/**
 * Upload, then switch the pointer. A run that fails or is interrupted leaves no empty directory
 * it made itself (the hub directory, its missing parents); one that was there, or that holds
 * anything (the zip uploaded before the pointer switch failed), stays.
 */
export async function publishCasaDistro(plan: CasaDistroPublishPlan, hub: Hub, onProgress?: (done: number, total: number) => void): Promise<'symlink' | 'copy' | 'unchanged'> {
  // Made apart from the upload, so that an interrupt that comes while the server makes them
  // waits for its answer and then knows them: otherwise they would be recorded after the
  // cleanup ran, and stay.
  let making: Promise<void> = Promise.resolve()
  // Registered before the upload's own cleanup, so it runs after it (newest first): the
  // directory is empty once the temporary file is gone.
  const forget = onInterrupt(async () => {
    await making.catch(() => undefined)
    await hub.removeEmptyDirectoriesMade('')
  })
  try {
    if (plan.upload) {
      const { mtimeMs } = await stat(plan.file)
      making = hub.mkdirp('')
      await making
      await hub.put(plan.file, plan.name, { onProgress, mtime: Math.floor(mtimeMs / 1000) })
    }
    const how = plan.switchPointer ? await hub.link(plan.name, pointerName) : 'unchanged'
    // Published: leftovers of other runs that cannot be looked for are no failure of this one
    // (which would fail every re-run the same way).
    await removeStaleTemporaries(hub, '', (path) => /^\.casa-distro(-[^/]*)?\.zip\.casa-tmp-/.test(path)).catch((error: unknown) => ui.warn(`${errorMessage(error)}: leftovers of earlier runs not looked for`))
    return how
  } catch (error) {
    // the error is what matters: a cleanup that fails too (connection lost) stays silent
    await hub.removeEmptyDirectoriesMade('').catch(() => undefined)
    throw error
  } finally {
    forget()
  }
}

