#!/usr/bin/env -S node --import tsx
// create_singularity: convert local docker images into Singularity/Apptainer SIF files in
// the workflow repository, without root and without Singularity or Apptainer installed.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'create_singularity',
    summary: 'Convert local docker images into Singularity/Apptainer images (no root needed)',
    description: `For every local docker image matching image_names (tags <none> and latest
skipped), writes <repository>/<image with / and : replaced by _><extension> plus
.md5 and .dockerid beside it. An image whose .dockerid equals the docker image id is up
to date and skipped unless force=1, or unless its SIF file is shorter than its header says
(truncated: converted again). The conversion streams docker export into tar2sqfs
(squashfs-tools-ng): no root, no unpacked copy; the image's own entries where docker's
init layer shows its own (/etc/hostname, /dev/console, /etc/mtab...) come from docker
save. The files are what Apptainer's build of the image gives (its objects, runscript,
labels, mode 0755), and reproducible: the same image id gives the same bytes. Temporary files go to
$APPTAINER_TMPDIR, $SINGULARITY_TMPDIR or $TMPDIR when the output directory cannot take
the squashfs in place. With sign=1 each converted file is also signed, as sign_singularity
does (key=, key_fingerprint=, $CASA_SIGN_PASSPHRASE), and its .md5 describes the signed file;
files already up to date are left as they are (sign them with sign_singularity).`,
    options: {
      image_names: { type: 'string', default: 'cati/*', positional: 'list', help: 'comma-separated wildcard filters on <namespace>/<name>:<tag>' },
      compressor: { type: 'string', help: 'squashfs compressor (default: config singularity.compressor)', choices: ['gzip', 'zstd', 'xz', 'lz4'] },
      force: { type: 'boolean', help: 'convert even images whose .dockerid is up to date' },
      dry_run: { type: 'boolean', help: 'print what would be converted and stop' },
      sign: { type: 'boolean', help: 'sign each converted file as sign_singularity does (key=, key_fingerprint=)' },
      key: { type: 'string', help: 'with sign=1: armored OpenPGP secret key file (default ~/.apptainer/keys/pgp-secret)' },
      key_fingerprint: { type: 'string', help: 'with sign=1: fingerprint of the key to use when the file holds several' },
    },
    async run(options, { config, signal }) {
      const { ui } = await import('casa-distro-admin')
      const { useDockerEngine } = await import('casa-distro-admin/docker')
      const { singularityPlan } = await import('casa-distro-admin/singularity')
      const { convertSingularityImages } = await import('casa-distro-admin/singularity')
      useDockerEngine(config.docker)
      const compressor = (options.compressor ?? config.singularity.compressor) as 'gzip' | 'zstd' | 'xz' | 'lz4'
      const items = await singularityPlan({ filter: options.image_names, repository: config.repository, extension: config.singularity.extension })
      const todo = items.filter((i) => options.force || !i.upToDate)
      for (const item of items) if (!todo.includes(item)) ui.info(`${item.reference}: ${item.file} is up to date`)
      for (const item of items) if (item.damage && !options.dry_run) ui.warn(`${item.file} is ${item.damage}: converting it again`)
      if (options.dry_run) {
        ui.result(ui.table(['image', 'file', 'action'], items.map((i) => [i.reference, i.file, todo.includes(i) ? `convert (${compressor})` : 'up to date'])))
        return
      }
      // The key is unlocked before any conversion: a wrong passphrase is said at once.
      const { signingKey } = await import('casa-distro-admin/singularity')
      const signKey = options.sign && todo.length > 0 ? await signingKey({ key: options.key, keyFingerprint: options.key_fingerprint }) : undefined
      await convertSingularityImages(config, todo, { compressor, signal, signKey })
    },
  },
  import.meta.url,
)
