#!/usr/bin/env -S node --import tsx
// update_docker: pull the matching catalog images from their docker hub.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'update_docker',
    summary: 'Pull the matching images from their docker hub (public or private)',
    description: `For every catalog image whose <namespace>/<name>:<tag> matches image_names,
pulls <registry>/<namespace>/<name>:<last tag> from the hub its visibility selects and
tags the result locally under all the image's tags. A summary says which images changed.`,
    options: {
      image_names: { type: 'string', default: '*', positional: 'list', help: 'comma-separated wildcard filters on <namespace>/<name>:<tag>' },
      jobs: { type: 'number', min: 1, help: 'pulls run at once (default: config jobs)' },
      json: { type: 'boolean', help: 'print the results as JSON' },
    },
    async run(options, { config, signal }) {
      const { ui } = await import('casa-distro-admin')
      const { checkEngine } = await import('casa-distro-admin/docker')
      const { selectImages, updateImages } = await import('casa-distro-admin/registry')
      const images = await selectImages(config, options.image_names)
      await checkEngine()
      const outcomes = await updateImages(images, config.hubs.docker, { jobs: options.jobs ?? config.jobs, signal })
      const count = (s: string) => outcomes.filter((o) => o.status === s).length
      ui.result(
        options.json
          ? JSON.stringify(outcomes, null, 2)
          : `${ui.table(['pulled', 'result', 'detail'], outcomes.map((o) => [o.reference, o.status, o.detail]))}\n${count('updated')} updated, ${count('unchanged')} unchanged, ${count('failed')} failed`,
      )
      return count('failed') > 0 ? 1 : 0
    },
  },
  import.meta.url,
)
