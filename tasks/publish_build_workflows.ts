#!/usr/bin/env -S node --import tsx
// publish_build_workflows: mirror build workflow directories of the repository to the
// build workflows hub, uploading only what changed and deleting what is gone.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'publish_build_workflows',
    summary: 'Mirror build workflows (<distro>/<branch>_<system>) to the build workflows hub',
    description: `A build workflow is a directory <repository>/<distro>/<branch>_<system>/ holding
conf/casa_distro.json. Each one matching the filters is mirrored to the same relative path
under hubs.buildWorkflows.upload (sftp:// or file://): files whose size or modification time
differ (or sha256 with checksum=1) are uploaded, each under a temporary name renamed into
place, then remote files that no longer exist locally are deleted. One run at a time mirrors
a directory: while it changes it, a run holds the file .casa-mirror.lock there, and another
run is refused with who holds it (break_lock=1 removes the lock of a run that was killed).
A workflow that fails (its lock held, a local file unreadable, a remote path in the way) is
reported and the others are still mirrored; the last line names the failed ones (exit 1). A
failure of the hub itself (connection lost, authentication, host key) or Ctrl-C stops at
once, naming the workflows not tried.`,
    options: {
      distro: { type: 'string', default: '*', help: 'wildcard filter on the distro directory' },
      branch: { type: 'string', default: '*', help: 'wildcard filter on the branch' },
      system: { type: 'string', default: '*', help: 'wildcard filter on the system (what follows the last _)' },
      checksum: { type: 'boolean', help: 'compare files by sha256 instead of size and modification time' },
      dry_run: { type: 'boolean', help: 'list what would be uploaded and deleted, change nothing' },
      break_lock: { type: 'boolean', help: 'remove the lock of another run on the same hub directory (one you know was killed)' },
    },
    async run(options, { config, signal }) {
      const [{ ui, printable }, { UserError }, { findBuildWorkflows }, { openHub, formatBytes }] = await Promise.all([
        import('casa-distro-admin'),
        import('casa-distro-admin'),
        import('casa-distro-admin/distro'),
        import('casa-distro-admin/hubs'),
      ])
      const workflows = findBuildWorkflows(config.repository, options)
      if (workflows.length === 0) {
        throw new UserError(printable(`No build workflow match distro="${options.distro}" branch="${options.branch}" system="${options.system}" in ${config.repository}`))
      }
      const url = config.hubs.buildWorkflows.upload
      // Connect first: a 1% mirror waits mostly on the server (its fork, the handshake, the
      // listing), so that starts before the rest of our own loading. The local trees are
      // walked while the handshake leaves this process waiting.
      const opening = openHub(url, config.ssh)
      opening.catch(() => undefined) // awaited below
      const [{ localTree, planMirror, applyMirror }, { lockMirror }, { publishInTurn, hubNotOpened }] = await Promise.all([
        import('casa-distro-admin/hubs'),
        import('casa-distro-admin/hubs'),
        import('casa-distro-admin/hubs'),
      ])
      const walks = workflows.map((workflow) => localTree(workflow.dir))
      for (const walk of walks) walk.catch(() => undefined) // awaited by planMirror
      const inTurn = { name: (w: (typeof workflows)[number]) => printable(w.path), noun: 'build workflows' }
      const hub = await opening.catch((error: unknown) => Promise.reject(hubNotOpened(workflows, inTurn, error)))
      try {
        await publishInTurn(workflows, { ...inTurn, hub, signal }, async (workflow) => {
          const i = workflows.indexOf(workflow)
          // as every message shows it: a directory name may hold an escape sequence
          const shown = printable(workflow.path)
          // The lock goes out with the listing (one round trip for both); a dry run takes none.
          const locking = options.dry_run ? Promise.resolve(undefined) : lockMirror(hub, workflow.path, { task: 'publish_build_workflows', breakLock: options.break_lock })
          const planning = ui.step(`comparing ${shown} with ${url}`, () => planMirror(workflow.dir, hub, workflow.path, { checksum: options.checksum, local: walks[i] }))
          const [locked, planned] = await Promise.allSettled([locking, planning])
          const unlock = locked.status === 'fulfilled' ? locked.value : undefined
          let failed = false
          try {
            if (locked.status === 'rejected') throw locked.reason
            if (planned.status === 'rejected') throw planned.reason
            const plan = planned.value
            if (options.dry_run) {
              // names escaped: a newline in a file name must not split its row
              const rows = [
                ...plan.uploads.map((u) => ['upload', printable(`${workflow.path}/${u.path}`), `${formatBytes(u.size)} (${u.reason})`]),
                ...plan.deletions.map((d) => ['delete', printable(`${workflow.path}/${d}`), '']),
              ]
              ui.result(rows.length ? ui.table(['action', 'path', 'detail'], rows) : `${shown}: up to date`)
              return
            }
            await ui.step(
              `${shown} -> ${url}`,
              (step) => applyMirror(plan, hub, { concurrency: config.uploads, signal, onLastChange: unlock?.checkAhead, onProgress: (b, t, f, n) => step.update(`${f}/${n} files, ${formatBytes(b)} of ${formatBytes(t)}`) }),
              (r) => `${shown}: ${r.uploaded} uploaded (${formatBytes(r.bytes)}), ${r.deleted} deleted, ${r.unchanged} unchanged`,
            )
          } catch (error) {
            failed = true
            throw error
          } finally {
            // after a failure, a lock that stays is a warning: the failure is the error shown
            await unlock?.({ afterFailure: failed })
            // A failed run leaves no empty directory of its own behind (the one made for its
            // lock, those made for uploads that did not happen); the error is what matters.
            if (failed) await hub.removeEmptyDirectoriesMade(workflow.path).catch(() => undefined)
          }
        })
      } finally {
        await hub.close()
      }
    },
  },
  import.meta.url,
)
