#!/usr/bin/env -S node --import tsx
// image_sizes: an example site task (docs/writing-tasks.md). Copy it into your workflow
// repository's tasks/ and `casa_distro_admin image_sizes` lists the images of your catalog
// with the disk space each takes locally. It imports only the public API: the light entry at
// the top, the heavy entries inside run, so that `help` stays fast.
import { defineTask, $, ui } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'image_sizes',
    summary: 'Show the local disk size of each image of the catalog (an example site task)',
    description: `Lists the images of the definitions found on imageSearchPath that match
image_names, with their local size as docker reports it ("not built" for the others).`,
    options: {
      image_names: { type: 'string', default: '*', positional: 'list', help: 'comma-separated wildcard filters on <namespace>/<name>:<tag>' },
      json: { type: 'boolean', help: 'print JSON' },
    },
    async run(options, { config }) {
      const { catalogFromConfig, imageListing } = await import('casa-distro-admin/images')
      const { useDockerEngine, checkEngine, inspectImages, formatBytes } = await importTools()
      useDockerEngine(config.docker)
      await checkEngine()
      const rows = await imageListing(await catalogFromConfig(config), options.image_names, inspectImages)
      const sizes: { image: string; bytes: number | null }[] = []
      for (const row of rows) {
        // one command per built image, through $: -v shows it, Ctrl-C kills it
        const bytes = row.localImage ? Number((await $`docker image inspect --format {{.Size}} ${row.image}`).stdout.trim()) : null
        sizes.push({ image: row.image, bytes })
      }
      if (options.json) return ui.result(JSON.stringify(sizes, null, 2))
      ui.result(ui.table(['image', 'size'], sizes.map((s) => [s.image, s.bytes === null ? 'not built' : formatBytes(s.bytes)])))
    },
  },
  import.meta.url,
)

async function importTools() {
  const [docker, hubs] = await Promise.all([import('casa-distro-admin/docker'), import('casa-distro-admin/hubs')])
  return { ...docker, formatBytes: hubs.formatBytes }
}
