#!/usr/bin/env -S node --import tsx
// update_release_plan: inspect the release components with git and merge them into the existing release plan
// (release_plan.yaml and its HTML view) in the workflow repository.
import { defineTask } from 'casa-distro-admin'

export default defineTask(
  {
    name: 'update_release_plan',
    summary: 'Inspect the git components (or some) and merge them into release_plan.yaml and release_plan.html',
    description: `For every component of releasePlan.components (or those the components filter
selects, minus those release_plan_decisions.yaml ignores): fetch its bare mirror under
<repository>/.release-plan-cache, read the revision and version of its bug_fix,
release_candidate and latest_release branches and its version tags, and plan the release by
the original's version rules. Merges into <repository>/release_plan.yaml and
release_plan.html: the inspected components replace their entries, the others are kept. A
component that cannot be read gets an error message in the plan; the others go on.`,
    options: {
      components: { type: 'string', positional: 'list', help: 'comma-separated wildcards on component names (or project/name); all when empty' },
    },
    async run(options, { config, signal }) {
      const { ui } = await import('casa-distro-admin')
      const { makeReleasePlan, countStates } = await import('casa-distro-admin/release')
      const { plan, file } = await makeReleasePlan(config, { components: options.components, update: true, signal })
      const c = countStates(plan)
      ui.success(`${file}: ${c.todo} to do, ${c.nothing} with nothing to do, ${c.warning} with warnings, ${c.error} with errors`)
    },
  },
  import.meta.url,
)
