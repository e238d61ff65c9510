/// <reference lib="dom" />
// release_plan.html in a real headless Chromium (Debian's /usr/bin/chromium driven by
// playwright-core): a plan made by create_release_plan from real git remotes, opened from
// disk; no console error, no network request, one row per component coloured by its state,
// the counts, the filter box, links to the branches. A screenshot is kept in test-artifacts/.
import t from 'tap'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chromium } from 'playwright-core'
import { stateColors } from '../lib/release/releasePlanHtml.js'
import { runCli, projectRoot } from './helpers/cli.js'
import { cmakeVersion, TestRemote } from './helpers/git.js'
import { tempDir } from './helpers/tmp.js'

const chromiumPath = '/usr/bin/chromium'

t.test('release_plan.html renders in Chromium: colours, counts, filter, links', { skip: existsSync(chromiumPath) ? false : `${chromiumPath} missing: run scripts/install-deps.sh` }, async (t) => {
  const root = tempDir(t, 'casa-html-remotes-')
  const remote = (name: string, bugFix: string, latest?: string) => {
    const r = new TestRemote(root, name)
    if (latest) r.setRef('latest_release', r.commit('master', { 'project_info.cmake': cmakeVersion(latest) }))
    if (latest !== bugFix) r.commit('master', { 'project_info.cmake': cmakeVersion(bugFix) })
    return r
  }
  const remotes = {
    'soma-base': remote('soma-base', '5.1.0', '5.0.2'), // work to do
    aims: remote('aims', '4.0.0', '4.0.0'), // nothing to do
    capsul: remote('capsul', '2.9.0', '3.0.0'), // error: latest_release is higher
    'soma-io': remote('soma-io', '2.0.0', '1.0.0'), // warning: a stale release_candidate
  }
  remotes['soma-io'].setRef('release_candidate', remotes['soma-io'].refs()['refs/heads/latest_release']!)
  const dir = tempDir(t, 'casa-html-repo-')
  const components = [
    { project: 'soma', name: 'soma-base', url: remotes['soma-base'].url },
    { project: 'soma', name: 'soma-io', url: remotes['soma-io'].url },
    { project: 'aims', name: 'aims', url: remotes.aims.url },
    { project: 'capsul', name: 'capsul', url: remotes.capsul.url },
    // Messages reach the page as text, never as markup: this URL ends up in an error message.
    { project: 'web', name: 'hostile', url: `file://${root}/<img src=x onerror=alert(1)>.git` },
  ]
  writeFileSync(join(dir, 'casa.config.ts'), `export default { releasePlan: { components: ${JSON.stringify(components)} } }\n`)
  const created = await runCli(['-r', dir, 'create_release_plan'], { env: { HOME: dir } })
  t.equal(created.code, 0, created.stderr)

  const browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox', '--disable-gpu'] })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1400, height: 700 } })
  const problems: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`)
  })
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('dialog', (dialog) => {
    problems.push(`dialog: ${dialog.message()}`)
    void dialog.dismiss()
  })
  const pageUrl = pathToFileURL(join(dir, 'release_plan.html')).href
  page.on('request', (request) => {
    if (request.url() !== pageUrl) problems.push(`request: ${request.url()}`)
  })
  await page.goto(pageUrl)

  const rows = await page.$$eval('#plan tbody tr', (trs) =>
    trs.map((tr) => ({ component: tr.getAttribute('data-component'), state: tr.getAttribute('data-state'), background: getComputedStyle(tr.querySelector('td')!).backgroundColor })),
  )
  const byName = Object.fromEntries(rows.map((r) => [r.component, r]))
  t.equal(rows.length, 5, 'one row per component')
  t.equal(byName['soma-base']?.state, 'todo')
  t.equal(byName.aims?.state, 'nothing')
  t.equal(byName.capsul?.state, 'error')
  t.equal(byName['soma-io']?.state, 'warning')
  t.equal(byName.hostile?.state, 'error')
  t.match(await page.$eval('tr[data-component="hostile"] .error-message', (div) => div.textContent), /<img src=x onerror=alert\(1\)>\.git/, 'markup in a message is shown as text')
  t.equal(await page.$$eval('#plan img', (imgs) => imgs.length), 0, 'and never becomes an element')
  for (const row of rows) t.equal(row.background, stateColors[row.state as keyof typeof stateColors], `${row.component}: coloured as ${row.state}`)
  t.equal(new Set(rows.map((r) => r.background)).size, 4, 'four states, four colours')

  const counts = await page.$$eval('[data-count]', (spans) => Object.fromEntries(spans.map((s) => [s.getAttribute('data-count'), s.querySelector('b')!.textContent])))
  t.same(counts, { error: '2', warning: '1', todo: '1', nothing: '1' })

  const visible = () => page.$$eval('#plan tbody tr', (trs) => trs.filter((tr) => !(tr as HTMLElement).hidden).map((tr) => tr.getAttribute('data-component')))
  await page.fill('#filter', 'soma')
  t.same(await visible(), ['soma-base', 'soma-io'], 'filter by project')
  await page.fill('#filter', 'higher than')
  t.same(await visible(), ['capsul'], 'filter by message, every word must match')
  await page.fill('#filter', 'work to do')
  t.same(await visible(), ['soma-base'], 'filter by state')
  await page.fill('#filter', '')
  t.equal((await visible()).length, 5, 'an empty filter shows every row')

  const link = await page.$eval('tr[data-component="soma-base"] td:nth-child(4) a', (a) => a.getAttribute('href'))
  t.equal(link, remotes['soma-base'].url, 'the bug_fix branch links to its repository')

  const artifacts = join(projectRoot, 'test-artifacts')
  mkdirSync(artifacts, { recursive: true })
  await page.screenshot({ path: join(artifacts, 'release_plan.png'), fullPage: true })
  t.same(problems, [], 'no console error, page error, dialog or network request')
})
