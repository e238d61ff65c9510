#!/usr/bin/env -S node --import tsx
// list_images: the image catalog as a table, with what is built locally and up to date.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'list_images',
    summary: 'List the image definitions: names, tags, dependencies, visibility, local state',
    description: `Lists every image of the definitions found on imageSearchPath (the first
directory holding a given <image_type>/<system> wins; -v lists the shadowed ones), in
build order: full name, tags, definition directory, dependencies, visibility, the local
image id (or "not built") and whether it is up to date with its definition.`,
    options: {
      image_names: { type: 'string', default: '*', positional: 'list', help: 'comma-separated wildcard filters on <namespace>/<name>:<tag>' },
      json: { type: 'boolean', help: 'print JSON' },
    },
    async run(options, { config }) {
      const { ui } = await import('casa-distro-admin')
      const { useDockerEngine, inspectImages, checkEngine } = await import('casa-distro-admin/docker')
      const { catalogFromConfig } = await import('casa-distro-admin/images')
      const { imageListing } = await import('casa-distro-admin/images')
      useDockerEngine(config.docker)
      const catalog = await catalogFromConfig(config)
      await checkEngine()
      const rows = await imageListing(catalog, options.image_names, inspectImages)
      if (options.json) {
        ui.result(JSON.stringify(rows, null, 2))
        return
      }
      ui.result(
        ui.table(
          ['image', 'tags', 'definition', 'depends on', 'visibility', 'local image', 'state'],
          rows.map((r) => [r.image, r.tags.join(', '), r.definition, r.dependencies.join(', '), r.visibility, r.localImage ?? 'not built', r.state]),
        ),
      )
    },
  },
  import.meta.url,
)
