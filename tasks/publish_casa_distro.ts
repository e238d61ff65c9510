#!/usr/bin/env -S node --import tsx
// publish_casa_distro: upload casa-distro-<version>.zip to the casa-distro hub and switch
// casa-distro.zip to it atomically.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'publish_casa_distro',
    summary: 'Upload casa-distro-<version>.zip to the casa-distro hub and point casa-distro.zip to it',
    description: `Uploads <repository>/casa-distro-<version>.zip (written by package_casa_distro) to
hubs.casaDistro.upload (sftp:// or file://) under a temporary name renamed into place, then
makes casa-distro.zip point to it: a symlink created under a temporary name and renamed over
the old one, or a copy renamed into place where the server does not allow links. A re-run
with the same version changes nothing. A run that fails or is interrupted removes the
directories it made on the hub that are left empty.`,
    options: {
      package_version: { type: 'string', help: 'version of the zip (default: this casa-distro-admin version)' },
      dry_run: { type: 'boolean', help: 'print what would be uploaded and switched, change nothing' },
    },
    async run(options, { config }) {
      const { ui, printable } = await import('casa-distro-admin')
      const { version: ownVersion } = await import('casa-distro-admin')
      const { openHub, formatBytes } = await import('casa-distro-admin/hubs')
      const { planCasaDistroPublish, publishCasaDistro, pointerName } = await import('casa-distro-admin/distro')
      const { packageFileName } = await import('casa-distro-admin/distro')
      const version = options.package_version ?? (await ownVersion())
      packageFileName(version) // a bad version stops here, before any work
      const url = config.hubs.casaDistro.upload
      const hub = await openHub(url, config.ssh)
      try {
        const plan = await planCasaDistroPublish(config.repository, version, hub)
        if (options.dry_run) {
          ui.result(
            ui.table(
              ['action', 'what', 'to'],
              [
                // the repository path escaped, as in publish_build_workflows' table
                [plan.upload ? 'upload' : 'up to date', printable(plan.file), `${url}/${plan.name}`],
                [plan.switchPointer ? 'switch' : 'up to date', `${pointerName} -> ${plan.name}`, url],
              ],
            ),
          )
          return
        }
        const how = await ui.step(
          `${plan.name} -> ${url}`,
          (step) => publishCasaDistro(plan, hub, (done, total) => step.update(`${formatBytes(done)} of ${formatBytes(total)}`)),
          (r) =>
            r === 'unchanged'
              ? `${plan.name} already published on ${url}, ${pointerName} points to it`
              : `${plan.upload ? 'uploaded' : 'kept'} ${plan.name}; ${pointerName} -> ${plan.name} (${r})`,
        )
        void how
      } finally {
        await hub.close()
      }
    },
  },
  import.meta.url,
)
