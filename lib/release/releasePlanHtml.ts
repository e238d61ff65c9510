// release_plan.html: the plan as one self-contained page (inline style and script, no network
// asset; a Content-Security-Policy forbids any), one row per component coloured by its state,
// counts per state at the top, a filter box, and links to the branches.
import { branchRoles } from './componentInspection.js'
import { redact, withoutCredentials } from '../util/redact.js'
import { componentState, planEntries, type Action, type ComponentState, type PlanBranch, type ReleasePlan } from './releasePlan.js'

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

export const stateColors: Record<ComponentState, string> = {
  error: 'rgb(248, 200, 200)',
  warning: 'rgb(252, 232, 178)',
  todo: 'rgb(200, 222, 250)',
  nothing: 'rgb(212, 240, 212)',
}

const stateLabels: Record<ComponentState, string> = { error: 'error', warning: 'warning', todo: 'work to do', nothing: 'nothing to do' }

/** A browsable address for a branch: forge web pages for http(s) URLs, the git URL otherwise. */
export function branchLink(b: PlanBranch): string | undefined {
  // Never a link carrying credentials, even from a plan written before they were left out.
  const url = withoutCredentials(b.vcs_url)
  if (/^https?:\/\//.test(url)) return `${url.replace(/\.git$/, '').replace(/\/$/, '')}/tree/${encodeURIComponent(b.branch)}`
  const scp = /^git@([^:]+):(.+?)(\.git)?$/.exec(url)
  if (scp) return `https://${scp[1]}/${scp[2]}/tree/${encodeURIComponent(b.branch)}`
  if (/^file:\/\//.test(url)) return url
  return undefined
}

const formatAction = (a: Action) => `${a[0]} ${a.slice(1).join(' → ')}`

function branchCell(b: PlanBranch): string {
  const name = escapeHtml(b.branch)
  const link = branchLink(b)
  const title = link ? `<a href="${escapeHtml(link)}">${name}</a>` : name
  if (!b.revision) return `${title}<br><span class="absent">absent</span>`
  return `${title}<br><b>${escapeHtml(b.version ?? '?')}</b> <code>${escapeHtml(b.revision.slice(0, 10))}</code>`
}

const list = (items: readonly string[], cls: string) => items.map((m) => `<div class="${cls}">${escapeHtml(redact(m))}</div>`).join('')

/** Whether two pages show the same plan, whenever each was generated. */
export function samePlanPage(a: string, b: string): boolean {
  const timeless = (page: string) => page.replace(/<p>Generated [^<]* UTC, /, '<p>')
  return timeless(a) === timeless(b)
}

export function renderPlanHtml(plan: ReleasePlan, generated = new Date()): string {
  const entries = planEntries(plan)
  const counts: Record<ComponentState, number> = { error: 0, warning: 0, todo: 0, nothing: 0 }
  const rows = entries.map(([project, name, c]) => {
    const state = componentState(c)
    counts[state]++
    const actions = [...c.todo.release_candidate.map((a) => `release_candidate: ${formatAction(a)}`), ...c.todo.latest_release.map((a) => `latest_release: ${formatAction(a)}`)]
    return `<tr class="${state}" data-state="${state}" data-component="${escapeHtml(name)}">
<td>${escapeHtml(project)}</td><td><b>${escapeHtml(name)}</b></td><td>${stateLabels[state]}</td>
${branchRoles.map((r) => `<td>${branchCell(c[r])}</td>`).join('')}
<td>${escapeHtml(c.next_version ?? '')}</td>
<td>${list(actions, 'action')}</td>
<td>${list(c.error_messages, 'error-message')}${list(c.warning_messages, 'warning-message')}${list(c.info_messages, 'info-message')}</td>
</tr>`
  })
  const states = Object.keys(counts) as ComponentState[]
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Release plan</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #bbb; padding: 4px 6px; vertical-align: top; text-align: left; }
th { background: #eee; position: sticky; top: 0; }
${states.map((s) => `tr.${s} td, .count.${s} { background: ${stateColors[s]}; }`).join('\n')}
.counts span { display: inline-block; padding: 3px 10px; margin-right: 6px; border: 1px solid #bbb; }
.absent { color: #888; font-style: italic; }
.error-message { color: #900; } .warning-message { color: #850; } .info-message { color: #333; }
.action { font-family: monospace; white-space: nowrap; }
#filter { font-size: 14px; padding: 4px; width: 20em; margin: 0.6em 0; }
</style>
</head>
<body>
<h1>Release plan</h1>
<p>Generated ${escapeHtml(generated.toISOString().replace('T', ' ').slice(0, 19))} UTC, ${entries.length} components.</p>
<div class="counts">${states.map((s) => `<span class="count ${s}" data-count="${s}">${stateLabels[s]}: <b>${counts[s]}</b></span>`).join('')}</div>
<input id="filter" type="search" placeholder="filter: project, component, state, message..." aria-label="filter">
<table id="plan">
<thead><tr><th>project</th><th>component</th><th>state</th><th>bug_fix</th><th>release_candidate</th><th>latest_release</th><th>next version</th><th>actions</th><th>messages</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
<script>
(function () {
  var box = document.getElementById('filter');
  var rows = document.querySelectorAll('#plan tbody tr');
  box.addEventListener('input', function () {
    var words = box.value.toLowerCase().split(/\\s+/).filter(Boolean);
    rows.forEach(function (row) {
      var text = row.textContent.toLowerCase();
      row.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
    });
  });
})();
</script>
</body>
</html>
`
}
