#!/usr/bin/env -S node --import tsx
// show_config: print the configuration as the tasks see it (defaults merged with the
// user's casa.config.ts), and which file it came from.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'show_config',
    summary: 'Print the configuration in effect (builtin defaults merged with your casa.config.ts)',
    description: `Shows where the configuration was read from, then the whole merged
configuration. Use it to check a casa.config.ts before running other tasks.`,
    options: {
      json: { type: 'boolean', help: 'print JSON instead of YAML' },
    },
    async run(options, { config }) {
      // Component and hub URLs may carry credentials: printed masked (the rule of lib/util/redact.ts).
      const { ui, redact } = await import('casa-distro-admin')
      if (options.json) {
        ui.result(redact(JSON.stringify(config, null, 2)))
        return
      }
      const { stringify } = await import('yaml')
      const { configFile, ...rest } = config
      ui.result(redact(`# configuration file: ${configFile ?? 'none (builtin defaults)'}\n${stringify(rest)}`))
    },
  },
  import.meta.url,
)
