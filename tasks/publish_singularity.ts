#!/usr/bin/env -S node --import tsx
// publish_singularity: upload SIF files to the singularity hub (a server over sftp:// or
// file://, and/or an OCI registry over oras://), skipping what is already published.
import { defineTask } from 'casa-distro-admin/task'

export default defineTask(
  {
    name: 'publish_singularity',
    summary: 'Publish Singularity/Apptainer images to the server hub and/or an OCI registry (ORAS)',
    description: `For every local docker image matching image_names whose SIF file exists in the
repository: on a server hub (hubs.singularity.upload, sftp:// or file://) the image is skipped
when <download>/<file>.md5 equals the local .md5; otherwise the image, its .dockerid, then
its .md5 are uploaded, each under a temporary name renamed on the server. On an ORAS hub
(oras://registry/namespace, as upload or as hubs.singularity.oras) the image is pushed as an
OCI artifact <registry>/<namespace>/<name>:<tag> with the credentials of your docker login,
skipped when the registry already holds the same digest.`,
    options: {
      image_names: { type: 'string', default: 'cati/*', positional: true, help: 'comma-separated wildcard filters on <namespace>/<name>:<tag>' },
      dry_run: { type: 'boolean', help: 'print what would be published and stop' },
    },
    async run(options, { config }) {
      const { ui } = await import('casa-distro-admin/ui')
      const { existsSync } = await import('node:fs')
      const { useDockerEngine } = await import('casa-distro-admin/docker')
      const { singularityPlan, eachLimited } = await import('casa-distro-admin/singularityPlan')
      const { publishToServer, publishToOras } = await import('casa-distro-admin/sifPublish')
      const { openServerHub } = await import('casa-distro-admin/sifHub')
      const { UserError, errorMessage } = await import('casa-distro-admin/errors')
      useDockerEngine(config.docker)
      const hub = config.hubs.singularity
      const items = (await singularityPlan({ filter: options.image_names, repository: config.repository, extension: config.singularity.extension })).filter((item) => {
        if (existsSync(item.file)) return true
        ui.warn(`${item.file} does not exist: run create_singularity ${item.reference} first`)
        return false
      })
      const orasHubs = [hub.upload, hub.oras].filter((u): u is string => !!u && u.startsWith('oras://'))
      const serverHub = hub.upload.startsWith('oras://') ? undefined : hub.upload
      if (options.dry_run) {
        const rows = items.flatMap((i) => [...(serverHub ? [[i.reference, i.file, serverHub]] : []), ...orasHubs.map((o) => [i.reference, i.file, o])])
        ui.result(ui.table(['image', 'file', 'to'], rows))
        return
      }
      if (items.length === 0) return
      const errors: unknown[] = []
      if (serverHub) {
        const server = await openServerHub(serverHub, config.ssh)
        try {
          errors.push(
            ...(await eachLimited(items, config.jobs, async (item) => {
              await ui.step(
                `${item.file} -> ${serverHub}`,
                (step) => publishToServer(item, server, hub.download, (d) => step.update(d)),
                (r) => `${item.reference}: ${r === 'up to date' ? 'up to date on' : 'uploaded to'} ${serverHub}`,
              )
            })),
          )
        } finally {
          await server.close()
        }
      }
      for (const oras of orasHubs) {
        errors.push(
          ...(await eachLimited(items, config.jobs, async (item) => {
            await ui.step(
              `${item.file} -> ${oras}`,
              () => publishToOras(item, oras),
              (r) => `${item.reference}: ${r.skipped ? 'up to date in' : 'pushed to'} oras://${r.reference} (${r.digest.slice(0, 19)})`,
            )
          })),
        )
      }
      if (errors.length === 1) throw errors[0]
      if (errors.length > 1) {
        for (const error of errors) ui.error(errorMessage(error))
        throw new UserError(`${errors.length} uploads failed`)
      }
    },
  },
  import.meta.url,
)
