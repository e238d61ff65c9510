// What a conversion killed with SIGKILL leaves, and its removal by the next conversion: the
// temporary SIF file and the temporaries of its .md5/.dockerid beside the output
// (`.<name>.tmp-<pid>-<hex>`), the probes of the output directory and of TMPDIR
// (`.casa-probe-<pid>-<hex>`, `.casa-write-<pid>-<hex>`), the squashfs in TMPDIR
// (`casa-sif-<pid>-<hex>.squashfs`, and `.head`, the stand-in a signature is made on), and the export container, labelled with the run that
// made it. Only those of runs that are gone: a live run's are in use.
import { basename, dirname } from 'node:path'
import { containersLabelled, removeContainer } from '../docker/docker.js'
import { isDeadRun, literally, removeDeadMatching, runMark } from '../util/leftovers.js'
import { printable, ui } from '../util/ui.js'

/** The label of an export container: the run that made it (lib/util/leftovers runMark). */
export const EXPORT_LABEL = 'org.brainvisa.casa-distro-admin.export-of'

/** The labels of this run's export container. */
export const exportLabels = (): Record<string, string> => ({ [EXPORT_LABEL]: runMark() })

/** Remove the files killed conversions to `output` left beside it and in `tmpDir`. */
export function removeKilledConversionFiles(output: string, tmpDir: string): void {
  const outDir = dirname(output)
  const removed = [
    ...removeDeadMatching(outDir, new RegExp(`^\\.${literally(basename(output))}(\\.md5|\\.dockerid)?\\.tmp-(?<pid>\\d+)-[0-9a-f]+$`)),
    ...removeDeadMatching(outDir, /^\.casa-(probe|write)-(?<pid>\d+)-[0-9a-f]+$/),
    ...removeDeadMatching(tmpDir, /^casa-sif-(?<pid>\d+)-[0-9a-f]+\.(squashfs|head)$/),
    ...removeDeadMatching(tmpDir, /^\.casa-write-(?<pid>\d+)-[0-9a-f]+$/),
  ]
  for (const path of removed) ui.info(printable(`removed ${path}, left by a conversion that was killed`))
}

let containersRemoved: Promise<void> | undefined

/** Remove the export containers (and their anonymous volumes) of killed runs on this host; once per run. */
export function removeKilledExportContainers(): Promise<void> {
  containersRemoved ??= (async () => {
    for (const { id, value } of await containersLabelled(EXPORT_LABEL)) {
      if (!isDeadRun(value)) continue
      await removeContainer(id)
      ui.info(`removed the export container ${id.slice(0, 12)}, left by a conversion that was killed (pid ${value.split(' ')[2]})`)
    }
  })()
  return containersRemoved
}
