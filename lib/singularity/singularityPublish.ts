// publish_singularity end to end: the SIF files of the matching images that exist, sent to
// the server hub (sftp:// or file://, through lib/hubs/transport, loaded only then: it brings
// ssh2) and to every ORAS hub, each image on its own so one failure does not stop the rest.
import { existsSync } from 'node:fs'
import type { ResolvedConfig } from '../config/config.js'
import { basename } from 'node:path'
import { UserError, errorMessage } from '../util/errors.js'
import type { Hub } from '../hubs/hub.js'
import { eachLimited, throwCollected } from '../util/mapLimited.js'
import { publishToOras, publishToServer } from './sifPublish.js'
import { INDEX_HTML, INDEX_JSON, updateIndex } from './imageIndex.js'
import { singularityPlan, type SingularityItem } from './singularityPlan.js'
import { ui } from '../util/ui.js'

export interface SingularityDestinations {
  items: SingularityItem[]
  /** The sftp:// or file:// hub, unless `upload` is an ORAS URL. */
  serverHub?: string
  orasHubs: string[]
}

/** What would be published where; a missing SIF file is a warning naming the command that makes it. */
export async function singularityDestinations(config: ResolvedConfig, filter: string): Promise<SingularityDestinations> {
  const hub = config.hubs.singularity
  const items = (await singularityPlan({ filter, repository: config.repository, extension: config.singularity.extension })).filter((item) => {
    if (existsSync(item.file)) return true
    ui.warn(`${item.file} does not exist: run create_singularity ${item.reference} first`)
    return false
  })
  // A truncated file is refused before anything is sent: its .md5 would not match it.
  throwCollected(
    items.filter((item) => item.damage).map((item) => new UserError(`${item.file} is ${item.damage}: run create_singularity ${item.reference}`)),
    (count) => `${count} SIF files are truncated`,
  )
  if (config.singularity.requireSignature) await requireSignatures(items, config.singularity.keyring)
  return {
    items,
    serverHub: hub.upload.startsWith('oras://') ? undefined : hub.upload,
    orasHubs: [hub.upload, hub.oras].filter((u): u is string => !!u && u.startsWith('oras://')),
  }
}

/** The temporary files of the names publishing `items` writes, once old enough to be no live run's. */
async function removeStaleUploads(server: Hub, items: readonly SingularityItem[]): Promise<void> {
  const names = [INDEX_JSON, INDEX_HTML, ...items.flatMap((item) => [basename(item.file), `${basename(item.file)}.md5`, `${basename(item.file)}.dockerid`])]
  const { removeStaleTemporaries, temporaryOfNames } = await import('../hubs/staleTemporaries.js')
  await removeStaleTemporaries(server, '', temporaryOfNames(names)).catch((error: unknown) => ui.warn(`${errorMessage(error)}: leftovers of earlier runs not looked for`))
}

/** singularity.requireSignature: every image verifies against the keyring, or nothing is sent. */
async function requireSignatures(items: readonly SingularityItem[], keyring: string | undefined): Promise<void> {
  const { verifySif } = await import('../sif/sifSignature.js')
  const { verificationKeys } = await import('./singularitySign.js')
  const keys = await verificationKeys(keyring)
  const refused: UserError[] = []
  for (const item of items) {
    const report = await verifySif(item.file, keys)
    if (!report.ok) refused.push(new UserError(`${item.file} does not verify (${report.summary}), and singularity.requireSignature is set: sign it with sign_singularity ${item.reference}`))
  }
  throwCollected(refused, (count) => `${count} SIF files do not verify: nothing published`)
}

export async function publishSingularity(config: ResolvedConfig, { items, serverHub, orasHubs }: SingularityDestinations): Promise<void> {
  if (items.length === 0) return
  const errors: unknown[] = []
  if (serverHub) {
    const { openHub } = await import('../hubs/transport.js')
    const server = await openHub(serverHub, config.ssh)
    try {
      const done: SingularityItem[] = []
      const failed = await eachLimited(items, config.jobs, async (item) => {
        await ui.step(
          `${item.file} -> ${serverHub}`,
          (step) => publishToServer(item, server, config.hubs.singularity.download, (detail) => step.update(detail)),
          (result) => `${item.reference}: ${result === 'up to date' ? 'up to date on' : 'uploaded to'} ${serverHub}`,
        )
        done.push(item)
      })
      errors.push(...failed)
      // The hub's images.json and index.html, with what is now there (lib/singularity/imageIndex.ts).
      if (!server.lost()) await updateIndex(server, done, config.hubs.singularity.download).catch((error: unknown) => errors.push(error))
      // Uploads of killed runs that no run will continue (an image converted again since, an
      // index write cut short): leftovers of earlier runs not found are no failure of this one.
      if (!server.lost()) await removeStaleUploads(server, items)
    } finally {
      await server.close()
    }
  }
  for (const oras of orasHubs) {
    const failed = await eachLimited(items, config.jobs, async (item) => {
      await ui.step(
        `${item.file} -> ${oras}`,
        () => publishToOras(item, oras),
        (result) => `${item.reference}: ${result.skipped ? 'up to date in' : 'pushed to'} oras://${result.reference} (${result.digest.slice(0, 19)})`,
      )
    })
    errors.push(...failed)
  }
  throwCollected(errors, (count) => `${count} uploads failed`)
}
