#!/usr/bin/env -S node --import tsx
// publish_docker: push the built images of the matching definitions to their docker hub and
// check what the registry stored.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'publish_docker',
    summary: 'Push every tag of the matching images to their docker hub (public or private), digests checked',
    description: `For every catalog image whose <namespace>/<name>:<tag> matches image_names,
tags each of its tags as <registry>/<namespace>/<name>:<tag> of the hub its visibility
selects (config hubs.docker.public or hubs.docker.private) and pushes it. Credentials are
those of your own "docker login <registry>" (credential store or helper); a refused push
says which registry to log in to. After each push the registry's manifest digest is
compared with the local repo digest (a registry silent for 30 s stops that check in one
line: CASA_REGISTRY_TIMEOUT=<seconds> to change it). --dry-run lists every tag, where it
would go and whether it would be pushed or fail (not built: exit 1, as the real run would).`,
    options: {
      image_names: { type: 'string', default: '*', positional: 'list', help: 'comma-separated wildcard filters on <namespace>/<name>:<tag>' },
      jobs: { type: 'number', min: 1, help: 'pushes run at once (default: config jobs)' },
      dry_run: { type: 'boolean', help: 'print what would be pushed where and stop' },
      json: { type: 'boolean', help: 'print the results as JSON' },
    },
    async run(options, { config, signal }) {
      const { ui } = await import('casa-distro-admin')
      const { checkEngine } = await import('casa-distro-admin/docker')
      const { selectImages, publishImages, planPushes } = await import('casa-distro-admin/registry')
      const images = await selectImages(config, options.image_names)
      if (options.dry_run) {
        // The outcome the real run would have: an image not built fails it, here too.
        const plan = await planPushes(images, config.hubs.docker)
        const rows = plan.map((p) => [p.local, p.remote, p.visibility, p.detail ? `${p.action}: ${p.detail}` : p.action])
        ui.result(options.json ? JSON.stringify(plan, null, 2) : ui.table(['image', 'pushed as', 'visibility', 'would'], rows))
        // Said on stderr too, as the real run says it: an exit 1 is never silent (--json, CI logs).
        for (const p of plan) if (p.detail) ui.error(p.detail)
        return plan.some((p) => p.action === 'fail') ? 1 : 0
      }
      await checkEngine()
      const outcomes = await publishImages(images, config.hubs.docker, { jobs: options.jobs ?? config.jobs, signal })
      const count = (status: string) => outcomes.filter((o) => o.status === status).length
      const failed = count('failed')
      ui.result(
        options.json
          ? JSON.stringify(outcomes, null, 2)
          : `${ui.table(['pushed as', 'result', 'digest'], outcomes.map((o) => [o.reference, o.status, o.digest || o.detail]))}\n${count('pushed')} pushed, ${count('up to date')} up to date, ${failed} failed`,
      )
      return failed > 0 ? 1 : 0
    },
  },
  import.meta.url,
)
