// How a build plan is shown: a table in build order for people, and JSON in the shape of
// `docker buildx bake --print` (a default group listing the targets in order, one target per
// image with its context, tags, labels and dependencies) for scripts.
import type { BuildPlan } from './buildPlan.js'
import { labels, shortId } from './buildPlan.js'
import { ui } from '../util/ui.js'

export function planTable(plan: BuildPlan): string {
  const rows = plan.items.map((item, i) => [
    String(i + 1),
    item.image.reference,
    item.action,
    item.reason,
    item.image.tags.length > 1 ? item.image.tags.slice(0, -1).join(', ') : '',
    item.dependsOn.join(', '),
    item.image.definition.dir,
  ])
  return ui.table(['#', 'image', 'action', 'why', 'extra tags', 'depends on', 'definition'], rows)
}

/** A target name bake accepts: the reference with separators made `-`. */
const targetName = (reference: string) => reference.replace(/[^A-Za-z0-9_-]/g, '-')

export function planBake(plan: BuildPlan): object {
  const names = plan.items.map((item) => targetName(item.image.reference))
  const nameOf = new Map(plan.items.map((item, i) => [item.image.reference, names[i]!]))
  return {
    group: { default: { targets: names } },
    target: Object.fromEntries(
      plan.items.map((item, i) => [
        names[i]!,
        {
          context: item.image.definition.dir,
          dockerfile: 'Dockerfile',
          tags: [item.image.reference, ...item.image.tags.slice(0, -1).map((t) => `${item.image.repository}:${t}`)],
          labels: { [labels.context]: item.contextDigest, [labels.definition]: item.image.definition.key },
          network: 'host',
          'x-casa': {
            action: item.action,
            reason: item.reason,
            selected: item.selected,
            bases: item.bases,
            depends_on: item.dependsOn.map((ref) => nameOf.get(ref) ?? ref),
            local_id: item.localId ? shortId(item.localId) : null,
            visibility: item.image.visibility,
          },
        },
      ]),
    ),
  }
}
