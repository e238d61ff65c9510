#!/usr/bin/env -S node --import tsx
// create_docker: build the docker images of the image definitions matching a filter, in
// dependency order, skipping those whose context and base are unchanged.
import { defineTask } from 'casa-distro-admin'
import type { ImageInfo } from 'casa-distro-admin/docker'

export default defineTask(
  {
    name: 'create_docker',
    summary: 'Build docker images from the image definitions (incremental, in dependency order)',
    description: `Builds every image whose <namespace>/<name>:<tag> matches image_names, after
the images it depends on. An image carries labels with the digest of its staged context
and the ids of its base images: when both are unchanged it is up to date and not rebuilt
(force=1 rebuilds the selected images). A dependency that is missing or out of date is
built first. Definitions without dependencies get their FROM image pulled first (a failed
pull with the image present locally is only a warning). Independent images build at once
up to jobs. A failure skips what depends on it; the others still build; the exit code is
1 if anything failed. --dry-run prints the plan in order and changes nothing; --json
prints the plan (with --dry-run, in the shape of docker buildx bake --print) or the results.`,
    options: {
      image_names: { type: 'string', default: '*', positional: 'list', help: 'comma-separated wildcard filters on <namespace>/<name>:<tag>' },
      force: { type: 'boolean', help: 'rebuild the selected images even when up to date' },
      jobs: { type: 'number', min: 1, help: 'images built at once (default: config jobs)' },
      dry_run: { type: 'boolean', help: 'print the plan in build order and stop' },
      json: { type: 'boolean', help: 'print JSON (the plan with --dry-run, else the results)' },
    },
    async run(options, { config, signal }) {
      const { ui } = await import('casa-distro-admin')
      const { useDockerEngine, inspectImages } = await import('casa-distro-admin/docker')
      const { catalogFromConfig } = await import('casa-distro-admin/images')
      const { makePlan } = await import('casa-distro-admin/images')
      const { planTable, planBake } = await import('casa-distro-admin/images')
      const { executePlan, pullBases, summaryTable } = await import('casa-distro-admin/docker')
      const { UsageError } = await import('casa-distro-admin')
      useDockerEngine(config.docker)
      if (options.jobs !== undefined && (!Number.isInteger(options.jobs) || options.jobs < 1)) throw new UsageError(`jobs: expected a whole number from 1, got ${options.jobs}`)
      const catalog = await catalogFromConfig(config)
      let superseded: string[] = []
      const pull = async (bases: string[], local: Promise<ReadonlyMap<string, ImageInfo>>) => {
        const pulled = await pullBases(bases, local, signal)
        superseded = pulled.superseded
        return pulled.refreshed
      }
      const plan = await makePlan(catalog, { filter: options.image_names, force: options.force }, inspectImages, options.dry_run ? undefined : pull)
      if (options.dry_run) {
        ui.result(options.json ? JSON.stringify(planBake(plan), null, 2) : planTable(plan))
        return
      }
      for (const item of plan.items) if (!item.selected) ui.info(`${item.image.reference} will be built first: ${item.reason}`)
      const outcomes = await executePlan(plan, { jobs: options.jobs ?? config.jobs, force: options.force, signal, superseded, builder: config.docker.builder })
      ui.result(options.json ? JSON.stringify(outcomes, null, 2) : summaryTable(outcomes))
      return outcomes.some((o) => o.status === 'failed' || o.status === 'skipped') ? 1 : 0
    },
  },
  import.meta.url,
)
