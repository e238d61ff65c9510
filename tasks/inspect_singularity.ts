#!/usr/bin/env -S node --import tsx
// inspect_singularity: what a SIF file holds (like `siftool list`), with its labels and
// the docker image it was made from; or, asked for sections, what `apptainer inspect` prints.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'inspect_singularity',
    summary: 'Show what a Singularity/Apptainer SIF image holds, its labels and its docker origin',
    description: `Reads the SIF header and descriptor table with our own reader (no siftool
needed) and prints the objects, the labels, the definition file and the .dockerid
and .md5 beside the file when present. Given labels=1, runscript=1, environment=1,
deffile=1, startscript=1 or all=1, prints those sections as \`apptainer inspect\` does,
read from the file's inspect-metadata.json object (as Apptainer reads it, without
starting a container); json=1 then prints them in Apptainer's JSON shape. Files written by
earlier versions (no metadata object) still give their objects, labels and definition file.`,
    options: {
      file: { type: 'string', positional: true, help: 'the .sif (or .simg) file' },
      json: { type: 'boolean', help: 'print JSON (Apptainer\'s shape when sections are asked)' },
      labels: { type: 'boolean', help: 'the labels, as apptainer inspect --labels' },
      runscript: { type: 'boolean', help: 'the runscript, as apptainer inspect --runscript' },
      environment: { type: 'boolean', help: 'the environment files, as apptainer inspect --environment' },
      deffile: { type: 'boolean', help: 'the definition file, as apptainer inspect --deffile' },
      startscript: { type: 'boolean', help: 'the startscript, as apptainer inspect --startscript' },
      all: { type: 'boolean', help: 'every section, as JSON (apptainer inspect --all)' },
    },
    async run(options) {
      const { ui, UsageError } = await import('casa-distro-admin')
      const { apptainerInspect, describeSif } = await import('casa-distro-admin/sif')
      if (!options.file) throw new UsageError('inspect_singularity needs a SIF file: inspect_singularity FILE')
      const names = ['deffile', 'runscript', 'startscript', 'environment', 'labels'] as const
      const sections = options.all ? [...names] : names.filter((name) => options[name])
      if (sections.length) {
        ui.result(await apptainerInspect(options.file, sections, Boolean(options.json || options.all)))
        return
      }
      const description = await describeSif(options.file)
      ui.result(options.json ? JSON.stringify(description.data, null, 2) : description.text)
    },
  },
  import.meta.url,
)
