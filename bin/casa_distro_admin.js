#!/usr/bin/env node
// The `casa_distro_admin` command: a thin launcher for the compiled dispatcher,
// kept as plain JavaScript so that start-up costs no TypeScript loader.
import { main } from '../dist/lib/cli/cli.js'

process.exitCode = await main(process.argv.slice(2))
