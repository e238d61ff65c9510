#!/usr/bin/env -S node --import tsx
// verify_singularity: check the PGP signatures of SIF files as `apptainer verify` does.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'verify_singularity',
    summary: 'Verify the signatures of Singularity/Apptainer images as apptainer verify does',
    description: `Checks every signature of each SIF file given (or, without files, of the SIF
files of the local docker images matching image_names) against keyring (default Apptainer's
~/.apptainer/keys/pgp-public; armored or binary). Exits 0 only when every signature of every
file verifies and at least one, by a key of the keyring, covers the system partition;
otherwise prints one line per file saying why (no signature, a key not in the keyring with
its fingerprint, a digest mismatch naming the object, not a SIF file, truncated) and exits 1.`,
    options: {
      files: { type: 'string', positional: 'list', help: 'comma-separated SIF files (or plain words)' },
      image_names: { type: 'string', help: 'without files: comma-separated wildcard filters on <namespace>/<name>:<tag>' },
      keyring: { type: 'string', help: 'OpenPGP public keys to trust (default config singularity.keyring, else ~/.apptainer/keys/pgp-public)' },
    },
    async run(options, { config }) {
      const { UsageError } = await import('casa-distro-admin')
      const { verificationKeys, verifyFiles } = await import('casa-distro-admin/singularity')
      if (options.files && options.image_names) throw new UsageError('verify_singularity: give files or image_names=, not both')
      let files = options.files ? options.files.split(',').filter(Boolean) : []
      if (files.length === 0) {
        const { useDockerEngine } = await import('casa-distro-admin/docker')
        const { singularityPlan } = await import('casa-distro-admin/singularity')
        useDockerEngine(config.docker)
        const items = await singularityPlan({ filter: options.image_names ?? 'cati/*', repository: config.repository, extension: config.singularity.extension })
        files = items.map((item) => item.file)
      }
      const keys = await verificationKeys(options.keyring ?? config.singularity.keyring)
      const reports = await verifyFiles(files, keys)
      return reports.every((r) => r.ok) ? 0 : 1
    },
  },
  import.meta.url,
)
