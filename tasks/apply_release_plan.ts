#!/usr/bin/env -S node --import tsx
// apply_release_plan: run the actions of release_plan.yaml as git operations on the
// components' remotes (the original's create_latest_release), or print them with dry=1.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'apply_release_plan',
    summary: 'Run the release plan actions on the git remotes (dry=1 prints them)',
    description: `Refuses, naming them, when a component with actions has errors, warnings (unless
ignore_warning=1) or no info message. Then runs each component's release_candidate actions,
then its latest_release actions, in order: set_version commits the new version into the
version file (in a temporary worktree) and pushes it; copy pushes the source's revision to the
target branch (or tags/<version> tag); rename is a copy then a delete; delete deletes a branch.
Before each push the target must still be where the plan recorded it: if someone pushed in
between, it stops and says so (nothing is ever forced over other people's work). Each action
done is recorded in <repository>/release_plan_journal.jsonl; a re-run skips those.`,
    options: {
      components: { type: 'string', positional: 'list', help: 'comma-separated wildcards on component names (or project/name); all when empty' },
      dry: { type: 'boolean', help: 'print the actions still to do and change nothing' },
      dry_run: { type: 'boolean', help: 'same as dry' },
      ignore_warning: { type: 'boolean', help: 'apply components with warnings too' },
    },
    async run(options, { config, signal }) {
      const { join } = await import('node:path')
      const { ui } = await import('casa-distro-admin')
      const { UserError } = await import('casa-distro-admin')
      const { loadPlan, planEntries, planFileName } = await import('casa-distro-admin/release')
      const { applyPlan } = await import('casa-distro-admin/release')
      const { componentFilter } = await import('casa-distro-admin/release')
      const file = join(config.repository, planFileName)
      const plan = await loadPlan(file)
      if (!plan) throw new UserError(`${file} does not exist: run create_release_plan first`)
      const only = componentFilter(options.components)
      // as create_release_plan and update_release_plan say it: a filter matching nothing is a mistake
      if (only && !planEntries(plan).some(([project, name]) => only(project, name))) throw new UserError(`No component match filter "${options.components}"`)
      const dry = Boolean(options.dry || options.dry_run)
      const report = await applyPlan({ repository: config.repository, plan, only, dry, ignoreWarning: Boolean(options.ignore_warning), components: config.releasePlan.components, signal })
      if (report.components === 0) ui.success('nothing to do')
      else if (!dry) ui.success(`${report.components} components released: ${report.done} actions done${report.skipped ? `, ${report.skipped} already done` : ''}`)
    },
  },
  import.meta.url,
)
