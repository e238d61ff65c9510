#!/usr/bin/env -S node --import tsx
// publish_release_plan: upload release_plan.yaml and release_plan.html to the release-plan hub.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'publish_release_plan',
    summary: 'Upload release_plan.yaml and release_plan.html to hubs.releasePlan.upload',
    description: `Uploads the plan files of the workflow repository to hubs.releasePlan.upload
(sftp:// or file://), each under a temporary name renamed on the server, so readers never see
a partial file. Files the hub already holds with the same bytes are left alone.`,
    options: {},
    async run(_options, { config }) {
      const { ui } = await import('casa-distro-admin')
      const { publishReleasePlan } = await import('casa-distro-admin/release')
      const files = await publishReleasePlan(config)
      const url = config.hubs.releasePlan.upload
      ui.success(files.length ? `published ${files.join(' and ')} to ${url}` : `${url} already holds release_plan.yaml and release_plan.html as they are here`)
    },
  },
  import.meta.url,
)
