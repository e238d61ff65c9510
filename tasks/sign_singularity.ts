#!/usr/bin/env -S node --import tsx
// sign_singularity: add to SIF files the PGP signature `apptainer sign` adds, so that
// `apptainer verify` (and verify_singularity) can check them.
import { existsSync } from 'node:fs'
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'sign_singularity',
    summary: 'Sign Singularity/Apptainer images as apptainer sign does (PGP, verifiable by apptainer verify)',
    description: `For every local docker image matching image_names whose SIF file exists in the
repository, adds a Signature object (the SIF library's pkg/integrity format: a clear-signed
digest of the header and of every object of the image's group) and rewrites the .md5
beside it, so publish_singularity uploads the signed file. A file already signed by the key
is left alone. The key is key=FILE (an armored secret key, as gpg --export-secret-keys
--armor writes it) or Apptainer's keyring ~/.apptainer/keys/pgp-secret; key_fingerprint=
chooses one when the file holds several. A passphrase-protected key takes its passphrase
from $CASA_SIGN_PASSPHRASE, or asks for it on a terminal.`,
    options: {
      image_names: { type: 'string', default: 'cati/*', positional: 'list', help: 'comma-separated wildcard filters on <namespace>/<name>:<tag>' },
      key: { type: 'string', help: 'armored OpenPGP secret key file (default ~/.apptainer/keys/pgp-secret)' },
      key_fingerprint: { type: 'string', help: 'fingerprint (or its end) of the key to use when the file holds several' },
    },
    async run(options, { config }) {
      const { ui } = await import('casa-distro-admin')
      const { UserError } = await import('casa-distro-admin')
      const { useDockerEngine } = await import('casa-distro-admin/docker')
      const { singularityPlan } = await import('casa-distro-admin/singularity')
      const { signingKey, signFile } = await import('casa-distro-admin/singularity')
      const { throwCollected } = await import('casa-distro-admin')
      useDockerEngine(config.docker)
      const items = await singularityPlan({ filter: options.image_names, repository: config.repository, extension: config.singularity.extension })
      const present = items.filter((item) => {
        if (item.damage) return true // said by signFile, as an error
        if (existsSync(item.file)) return true
        ui.warn(`${item.file} does not exist: run create_singularity ${item.reference} first`)
        return false
      })
      if (present.length === 0) throw new UserError(`no SIF file to sign among ${items.length} matching images`)
      const key = await signingKey({ key: options.key, keyFingerprint: options.key_fingerprint })
      const errors: unknown[] = []
      for (const item of present) await signFile(item.file, key).catch((error) => errors.push(error))
      throwCollected(errors, (count) => `${count} of ${present.length} files could not be signed`)
    },
  },
  import.meta.url,
)
