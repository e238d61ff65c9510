#!/usr/bin/env -S node --import tsx
// inspect_singularity: what a SIF file holds (like `siftool list`), with its labels and
// the docker image it was made from.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'inspect_singularity',
    summary: 'Show what a Singularity/Apptainer SIF image holds, its labels and its docker origin',
    description: `Reads the SIF header and descriptor table with our own reader (no siftool
needed) and prints the objects, the JSON labels, the definition file and the .dockerid
and .md5 beside the file when present.`,
    options: {
      file: { type: 'string', positional: true, help: 'the .sif (or .simg) file' },
      json: { type: 'boolean', help: 'print JSON' },
    },
    async run(options) {
      const { ui } = await import('casa-distro-admin')
      const { UsageError } = await import('casa-distro-admin')
      const { describeSif } = await import('casa-distro-admin/sif')
      if (!options.file) throw new UsageError('inspect_singularity needs a SIF file: inspect_singularity FILE')
      const description = await describeSif(options.file)
      ui.result(options.json ? JSON.stringify(description.data, null, 2) : description.text)
    },
  },
  import.meta.url,
)
