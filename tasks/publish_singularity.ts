#!/usr/bin/env -S node --import tsx
// publish_singularity: upload SIF files to the singularity hub (a server over sftp:// or
// file://, and/or an OCI registry over oras://), skipping what is already published.
import { defineTask } from 'casa-distro-admin'

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
skipped when the registry already holds the same digest. A registry silent for 30 s
(CASA_REGISTRY_TIMEOUT=<seconds> to change it) stops the push with one line. With
singularity.requireSignature in the config, every image must verify (as verify_singularity,
against singularity.keyring) before anything is uploaded.`,
    options: {
      image_names: { type: 'string', default: 'cati/*', positional: 'list', help: 'comma-separated wildcard filters on <namespace>/<name>:<tag>' },
      dry_run: { type: 'boolean', help: 'print what would be published and stop' },
    },
    async run(options, { config }) {
      const { ui } = await import('casa-distro-admin')
      const { useDockerEngine } = await import('casa-distro-admin/docker')
      const { singularityDestinations, publishSingularity } = await import('casa-distro-admin/singularity')
      useDockerEngine(config.docker)
      const destinations = await singularityDestinations(config, options.image_names)
      if (options.dry_run) {
        const { items, serverHub, orasHubs } = destinations
        const rows = items.flatMap((i) => [serverHub, ...orasHubs].filter((to): to is string => !!to).map((to) => [i.reference, i.file, to]))
        ui.result(ui.table(['image', 'file', 'to'], rows))
        return
      }
      await publishSingularity(config, destinations)
    },
  },
  import.meta.url,
)
