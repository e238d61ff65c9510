#!/usr/bin/env -S node --import tsx
// package_casa_distro: write <repository>/casa-distro-<version>.zip, the command bundled to
// run with Node.js alone.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'package_casa_distro',
    summary: 'Write <repository>/casa-distro-<version>.zip, runnable with Node.js alone',
    description: `Bundles the command, every task and their dependencies with esbuild into a few
files, adds share/, the builtin casa.config.ts and a README, and writes
<repository>/casa-distro-<version>.zip (under a temporary name renamed into place). The same
sources give the same zip, byte for byte. publish_casa_distro uploads it.`,
    options: {
      package_version: { type: 'string', help: 'version in the file name (default: this casa-distro-admin version)' },
      dry_run: { type: 'boolean', help: 'print the file that would be written and stop' },
    },
    async run(options, { config }) {
      const { ui } = await import('casa-distro-admin')
      const { version: ownVersion } = await import('casa-distro-admin')
      const { writeCasaDistroPackage, packageFileName } = await import('casa-distro-admin/distro')
      const { formatBytes } = await import('casa-distro-admin/hubs')
      const { join } = await import('node:path')
      const version = options.package_version ?? (await ownVersion())
      packageFileName(version) // a bad version stops here, before any work
      if (options.dry_run) {
        ui.result(join(config.repository, packageFileName(version)))
        return
      }
      const result = await ui.step(
        `bundling casa-distro ${version}`,
        () => writeCasaDistroPackage(config.repository, version),
        (r) => `${r.upToDate ? 'up to date' : 'wrote'} ${r.file} (${formatBytes(r.bytes)}, ${r.entries} files)`,
      )
      ui.result(result.file)
    },
  },
  import.meta.url,
)
