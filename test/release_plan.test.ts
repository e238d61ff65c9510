// Release plans end to end with real git: bare repositories as remotes (file:// URLs) holding
// BrainVISA-like project_info.cmake / info.py files (and package.json / pyproject.toml),
// create_release_plan through the CLI, the plan's structure and version rules, decisions,
// update merges, publish to a file:// hub, apply dry and for real, an interrupted apply
// re-run from its journal, a concurrent push detected.
import t from 'tap'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { runCli } from './helpers/cli.js'
import { cmakeVersion, infoPyVersion, packageJsonVersion, pyprojectVersion, TestRemote } from './helpers/git.js'
import { tempDir } from './helpers/tmp.js'
import { readVersion, writeVersion, formatVersion, chooseVersionFile } from '../lib/release/componentVersion.js'

interface Setup {
  dir: string
  env: Record<string, string>
  remotes: Record<string, TestRemote>
  cli(args: string[]): ReturnType<typeof runCli>
  plan(): any
}

function setup(t: { teardown(fn: () => void): void }, components: { project: string; name: string; url?: string; versionFile?: string }[], remotes: Record<string, TestRemote>, extra = ''): Setup {
  const dir = tempDir(t, 'casa-release-repo-')
  const home = join(dir, '.home')
  mkdirSync(home)
  const list = components.map((c) => ({ project: c.project, name: c.name, url: c.url ?? remotes[c.name]!.url, ...(c.versionFile ? { versionFile: c.versionFile } : {}) }))
  writeFileSync(join(dir, 'casa.config.ts'), `export default { releasePlan: { components: ${JSON.stringify(list)}, jobs: 3 }, hubs: { releasePlan: { upload: 'file://${dir}/hub' } }${extra} }\n`)
  const env = { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts') }
  return {
    dir,
    env,
    remotes,
    cli: (args) => runCli(['-r', dir, ...args], { env }),
    plan: () => parse(readFileSync(join(dir, 'release_plan.yaml'), 'utf8')),
  }
}

t.test('version files: read and written back for each kind', async (t) => {
  const cases = [
    ['project_info.cmake', cmakeVersion('5.1.2')],
    ['info.py', infoPyVersion('5.1.2')],
    ['package.json', packageJsonVersion('5.1.2')],
    ['pyproject.toml', pyprojectVersion('5.1.2')],
  ] as const
  for (const [kind, text] of cases) {
    t.equal(formatVersion(readVersion(kind, text)), '5.1.2', kind)
    const written = writeVersion(kind, text, { major: 5, minor: 2, patch: 0 })
    t.equal(formatVersion(readVersion(kind, written)), '5.2.0', `${kind} written`)
    t.equal(written.split('\n').length, text.split('\n').length, `${kind}: the rest of the file is kept`)
  }
  t.match(writeVersion('pyproject.toml', pyprojectVersion('1.0.0'), { major: 1, minor: 0, patch: 1 }), /\[tool\.other\]\nversion = "0\.0\.0"/, 'only the first version line changes')
  t.throws(() => readVersion('project_info.cmake', cmakeVersion('5.1.2').replace('MINOR 1', 'MINOR x')), /BRAINVISA_PACKAGE_VERSION/)
  t.throws(() => readVersion('package.json', '{"version": "5.1"}'), /not major\.minor\.patch/)
  t.equal(chooseVersionFile(['README', 'python/soma/info.py', 'package.json']), 'python/soma/info.py')
  t.equal(chooseVersionFile(['project_info.cmake', 'python/soma/info.py']), 'project_info.cmake')
  t.equal(chooseVersionFile(['src/main.c']), undefined)
})

function makeRemotes(root: string) {
  const r = (name: string) => new TestRemote(root, name)
  const remotes: Record<string, TestRemote> = {}
  // latest_release differs from bug_fix, with a higher bug_fix version (cmake).
  const differs = (remotes['soma-base'] = r('soma-base'))
  const old = differs.commit('master', { 'project_info.cmake': cmakeVersion('5.0.2') })
  differs.setRef('latest_release', old)
  differs.commit('master', { 'project_info.cmake': cmakeVersion('5.1.0'), 'src.c': 'int x;\n' })
  // Same versions on both branches, the old version already tagged (python info.py).
  const equal = (remotes['soma-io'] = r('soma-io'))
  const released = equal.commit('master', { 'python/soma/info.py': infoPyVersion('2.3.1') })
  equal.setRef('latest_release', released)
  equal.setRef('refs/tags/2.3.1', released)
  equal.commit('master', { 'python/soma/fix.py': 'fixed = True\n' })
  // No latest_release yet (package.json).
  const fresh = (remotes['web-ui'] = r('web-ui'))
  fresh.commit('master', { 'package.json': packageJsonVersion('1.0.0') })
  // latest_release has a higher version than bug_fix: an error (pyproject.toml).
  const higher = (remotes['capsul'] = r('capsul'))
  const newer = higher.commit('master', { 'pyproject.toml': pyprojectVersion('3.0.0') })
  higher.setRef('latest_release', newer)
  higher.commit('master', { 'pyproject.toml': pyprojectVersion('2.9.0') }, { message: 'downgrade' })
  // Already released: nothing to do.
  const done = (remotes['aims'] = r('aims'))
  const both = done.commit('master', { 'project_info.cmake': cmakeVersion('4.0.0') })
  done.setRef('latest_release', both)
  // A version file that cannot be read.
  const bad = (remotes['broken'] = r('broken'))
  bad.commit('master', { 'project_info.cmake': cmakeVersion('1.2.3').replace('MINOR 2', 'MINOR two') })
  // No version file at all.
  const none = (remotes['docs'] = r('docs'))
  none.commit('master', { 'README.md': '# docs\n' })
  // versionFile forces which file is read (package.json would say 9.9.9).
  const forced = (remotes['forced'] = r('forced'))
  forced.commit('master', { 'package.json': packageJsonVersion('9.9.9'), 'python/forced/info.py': infoPyVersion('0.4.0') })
  return remotes
}

const allComponents = (root: string) => [
  { project: 'soma', name: 'soma-base' },
  { project: 'soma', name: 'soma-io' },
  { project: 'web', name: 'web-ui' },
  { project: 'capsul', name: 'capsul' },
  { project: 'aims', name: 'aims' },
  { project: 'misc', name: 'broken' },
  { project: 'misc', name: 'docs' },
  { project: 'misc', name: 'forced', versionFile: 'python/forced/info.py' },
  { project: 'misc', name: 'unreachable', url: `file://${root}/does-not-exist.git` },
]

t.test('create_release_plan: plan by the version rules, apply dry then for real, then nothing to do', async (t) => {
  const root = tempDir(t, 'casa-release-remotes-')
  const remotes = makeRemotes(root)
  const s = setup(t, allComponents(root), remotes)

  const created = await s.cli(['create_release_plan'])
  t.equal(created.code, 0, created.stderr)
  for (const name of ['soma-base', 'soma-io', 'web-ui', 'capsul', 'aims', 'broken', 'docs', 'forced', 'unreachable']) t.match(created.stderr, new RegExp(`inspect \\w+/${name}`), `a progress line for ${name}`)
  t.ok(existsSync(join(s.dir, '.release-plan-cache', 'soma', 'soma-base.git', 'HEAD')), 'bare mirror cached in the workflow repository')
  t.ok(existsSync(join(s.dir, 'release_plan.html')))
  const plan = s.plan()
  t.same(Object.keys(plan).sort(), ['aims', 'capsul', 'misc', 'soma', 'web'])

  const base = plan.soma['soma-base']
  const baseRefs = remotes['soma-base']!.refs()
  t.same(base.bug_fix, { vcs_url: remotes['soma-base']!.url, branch: 'master', revision: baseRefs['refs/heads/master'], version: '5.1.0', version_file: 'project_info.cmake' })
  t.same(base.latest_release.version, '5.0.2')
  t.same(base.release_candidate, { vcs_url: remotes['soma-base']!.url, branch: 'release_candidate', revision: null, version: null })
  t.equal(base.next_version, '5.1.0')
  t.same(base.todo, { release_candidate: [['copy', 'bug_fix', 'release_candidate']], latest_release: [['rename', 'latest_release', 'tags/5.0.2'], ['rename', 'release_candidate', 'latest_release']] })
  t.same(base.error_messages, [])
  t.same(base.warning_messages, [])
  t.match(base.info_messages[0], /release 5\.1\.0/)

  const io = plan.soma['soma-io']
  t.equal(io.bug_fix.version, '2.3.1')
  t.equal(io.bug_fix.version_file, 'python/soma/info.py')
  t.equal(io.next_version, '2.3.2', 'equal versions: patch incremented')
  t.same(io.todo, { release_candidate: [['set_version', 'bug_fix', '2.3.2'], ['copy', 'bug_fix', 'release_candidate']], latest_release: [['delete', 'latest_release'], ['rename', 'release_candidate', 'latest_release']] }, 'tag exists: delete instead of keeping')
  t.same(io.version_tags, { '2.3.1': remotes['soma-io']!.refs()['refs/tags/2.3.1'] })

  const ui = plan.web['web-ui']
  t.equal(ui.latest_release.revision, null)
  t.same(ui.todo, { release_candidate: [['copy', 'bug_fix', 'release_candidate']], latest_release: [['rename', 'release_candidate', 'latest_release']] })

  t.match(plan.capsul.capsul.error_messages, [/latest_release version 3\.0\.0 is higher than bug_fix version 2\.9\.0/])
  t.same(plan.capsul.capsul.todo, { release_candidate: [], latest_release: [] })
  t.match(plan.aims.aims.info_messages, [/nothing to do/])
  t.same(plan.aims.aims.todo, { release_candidate: [], latest_release: [] })
  t.match(plan.misc.broken.error_messages, [/project_info\.cmake: no BRAINVISA_PACKAGE_VERSION/])
  t.match(plan.misc.docs.error_messages, [/no version file/])
  t.equal(plan.misc.forced.bug_fix.version, '0.4.0', 'versionFile is the one read')
  t.match(plan.misc.unreachable.error_messages, [/cannot read file:\/\/.*does-not-exist\.git/])
  t.match(readFileSync(join(s.dir, 'release_plan.yaml'), 'utf8'), /- \[copy, bug_fix, release_candidate\]/, 'actions written one per line')

  // Publish to a file:// hub: both files land whole, no temporary left.
  const published = await s.cli(['publish_release_plan'])
  t.equal(published.code, 0, published.stderr)
  t.equal(readFileSync(join(s.dir, 'hub', 'release_plan.yaml'), 'utf8'), readFileSync(join(s.dir, 'release_plan.yaml'), 'utf8'))
  t.equal(readFileSync(join(s.dir, 'hub', 'release_plan.html'), 'utf8'), readFileSync(join(s.dir, 'release_plan.html'), 'utf8'))
  t.same(readdirSync(join(s.dir, 'hub')).sort(), ['release_plan.html', 'release_plan.yaml'])

  // Nothing changed since: update leaves both files alone (the page's time included), and a
  // second publish uploads nothing.
  const inode = (path: string) => statSync(path).ino
  const local = { yaml: inode(join(s.dir, 'release_plan.yaml')), html: inode(join(s.dir, 'release_plan.html')) }
  const unchanged = await s.cli(['update_release_plan'])
  t.equal(unchanged.code, 0, unchanged.stderr)
  t.same({ yaml: inode(join(s.dir, 'release_plan.yaml')), html: inode(join(s.dir, 'release_plan.html')) }, local, 'neither plan file rewritten')
  const onHub = { yaml: inode(join(s.dir, 'hub', 'release_plan.yaml')), html: inode(join(s.dir, 'hub', 'release_plan.html')) }
  const republished = await s.cli(['publish_release_plan'])
  t.equal(republished.code, 0, republished.stderr)
  t.match(republished.stderr, /already holds release_plan\.yaml and release_plan\.html as they are here/)
  t.same({ yaml: inode(join(s.dir, 'hub', 'release_plan.yaml')), html: inode(join(s.dir, 'hub', 'release_plan.html')) }, onHub, 'nothing uploaded again')

  // dry=1 prints the actions and changes nothing.
  const before = Object.fromEntries(Object.entries(remotes).map(([n, r]) => [n, r.refs()]))
  const dry = await s.cli(['apply_release_plan', 'dry=1'])
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, /soma\/soma-io release_candidate: set_version bug_fix \(master\) to 2\.3\.2/)
  t.match(dry.stdout, /soma\/soma-base latest_release: rename latest_release \(latest_release\) to tag 5\.0\.2/)
  t.equal(dry.stdout.trim().split('\n').length, 3 + 4 + 2 + 2, 'one line per action (soma-base, soma-io, web-ui, forced)')
  t.same(Object.fromEntries(Object.entries(remotes).map(([n, r]) => [n, r.refs()])), before, 'no remote changed')
  t.notOk(existsSync(join(s.dir, 'release_plan_journal.jsonl')))

  const applied = await s.cli(['apply_release_plan'])
  t.equal(applied.code, 0, applied.stderr)
  const afterBase = remotes['soma-base']!.refs()
  t.equal(afterBase['refs/heads/latest_release'], baseRefs['refs/heads/master'], 'soma-base released from bug_fix')
  t.equal(afterBase['refs/tags/5.0.2'], baseRefs['refs/heads/latest_release'], 'old latest_release kept as tag 5.0.2')
  t.notOk('refs/heads/release_candidate' in afterBase, 'release_candidate renamed away')
  const afterIo = remotes['soma-io']!.refs()
  t.equal(afterIo['refs/heads/latest_release'], afterIo['refs/heads/master'])
  t.match(remotes['soma-io']!.show('master', 'python/soma/info.py'), /version_minor = 3\nversion_micro = 2\n/, 'version 2.3.2 committed into info.py')
  t.match(remotes['soma-io']!.show('master', 'python/soma/info.py'), /version_extra = ''/, 'rest of info.py kept')
  t.same(remotes['soma-io']!.log('master').slice(0, 2), ['version 2.3.2', 'change master'])
  t.equal(remotes['web-ui']!.refs()['refs/heads/latest_release'], remotes['web-ui']!.refs()['refs/heads/master'])
  t.same(remotes['capsul']!.refs(), before['capsul'], 'a component with errors is left alone')

  const again = await s.cli(['create_release_plan'])
  t.equal(again.code, 0, again.stderr)
  const second = s.plan()
  for (const [project, name] of [['soma', 'soma-base'], ['soma', 'soma-io'], ['web', 'web-ui']]) {
    t.same(second[project][name].todo, { release_candidate: [], latest_release: [] }, `${name}: nothing left to do`)
    t.match(second[project][name].info_messages, [/nothing to do/])
  }
  const nothing = await s.cli(['apply_release_plan'])
  t.equal(nothing.code, 0, nothing.stderr)
  t.match(nothing.stderr, /nothing to do/)
})

t.test('decisions file, component filter, update merges', async (t) => {
  const root = tempDir(t, 'casa-release-remotes-')
  const remotes = makeRemotes(root)
  const s = setup(t, allComponents(root).slice(0, 5), remotes)
  writeFileSync(join(s.dir, 'release_plan_decisions.yaml'), 'ignore:\n  component: [soma-io]\n  project: [capsul]\n')
  const created = await s.cli(['create_release_plan'])
  t.equal(created.code, 0, created.stderr)
  t.match(created.stderr, /ignored by release_plan_decisions\.yaml: soma\/soma-io, capsul\/capsul/)
  t.same(Object.keys(s.plan().soma), ['soma-base'])
  t.notOk('capsul' in s.plan())

  rmSync(join(s.dir, 'release_plan_decisions.yaml'))
  const only = await s.cli(['create_release_plan', 'components=web-*'])
  t.equal(only.code, 0, only.stderr)
  t.same(Object.keys(s.plan()), ['web'], 'create replaces the plan')
  const updated = await s.cli(['update_release_plan', 'soma/*'])
  t.equal(updated.code, 0, updated.stderr)
  t.same(Object.keys(s.plan()).sort(), ['soma', 'web'], 'update merges into the plan')
  t.same(Object.keys(s.plan().soma).sort(), ['soma-base', 'soma-io'])

  const none = await s.cli(['create_release_plan', 'components=nope*'])
  t.equal(none.code, 1)
  t.equal(none.stderr.trim(), 'error: No component match filter "nope*"')

  writeFileSync(join(s.dir, 'release_plan_decisions.yaml'), 'ignore:\n  component: soma-io\n')
  const bad = await s.cli(['create_release_plan'])
  t.equal(bad.code, 1)
  t.match(bad.stderr.trim(), /^error: .*release_plan_decisions\.yaml: expected "ignore: \{component: \[names\], project: \[names\]\}"$/)
  t.same(Object.keys(s.plan()).sort(), ['soma', 'web'], 'the plan is left as it was')
})

t.test('apply: refusals, a concurrent push detected, an interrupted apply re-run from its journal', async (t) => {
  const root = tempDir(t, 'casa-release-remotes-')
  const remotes: Record<string, TestRemote> = {}
  const mk = (name: string, version: string) => {
    const remote = (remotes[name] = new TestRemote(root, name))
    const old = remote.commit('master', { 'project_info.cmake': cmakeVersion(version) })
    remote.setRef('latest_release', old)
    remote.commit('master', { 'fix.txt': 'fix\n' })
    return remote
  }
  const moving = mk('moving', '1.0.0')
  const hooked = mk('hooked', '2.0.0')
  const stale = mk('stale', '3.0.0')
  stale.setRef('release_candidate', stale.refs()['refs/heads/latest_release']!)
  const s = setup(t, [{ project: 'p', name: 'moving' }, { project: 'p', name: 'hooked' }, { project: 'p', name: 'stale' }], remotes)
  t.equal((await s.cli(['create_release_plan'])).code, 0)
  t.match(s.plan().p.stale.warning_messages, [/release_candidate branch release_candidate exists/])

  const refused = await s.cli(['apply_release_plan'])
  t.equal(refused.code, 1)
  t.match(refused.stderr, /refusing to apply the release plan: p\/stale has warnings/)
  t.equal(refused.stderr.trim().split('\n').length, 1, 'one line')

  // Someone pushes to moving's bug_fix after the plan: apply stops there, nothing forced.
  const theirs = moving.commit('master', { 'other.txt': 'someone else\n' }, { message: 'their work' })
  const stopped = await s.cli(['apply_release_plan', 'moving', 'ignore_warning=1'])
  t.equal(stopped.code, 1)
  t.match(stopped.stderr, /p\/moving: refs\/heads\/master was expected at [0-9a-f]{10} but is at [0-9a-f]{10}: someone pushed since the plan was made; nothing was forced/)
  t.equal(moving.refs()['refs/heads/master'], theirs, 'their commit is still there')
  t.notOk('refs/heads/release_candidate' in moving.refs())

  // The remote rejects tag pushes for a while: apply fails half way.
  const hook = join(hooked.bare, 'hooks', 'pre-receive')
  const marker = join(root, 'reject-tags')
  writeFileSync(marker, '')
  writeFileSync(hook, `#!/bin/sh\nwhile read old new ref; do case "$ref" in refs/tags/*) if [ -e '${marker}' ]; then echo "tags are frozen" >&2; exit 1; fi;; esac; done\nexit 0\n`)
  chmodSync(hook, 0o755)
  const half = await s.cli(['apply_release_plan', 'hooked'])
  t.equal(half.code, 1)
  // the rename's tag and branch deletion go in one atomic push: both named
  t.match(half.stderr, /error: p\/hooked: git push refs\/tags\/2\.0\.0 and refs\/heads\/latest_release to file:\/\/.* failed: remote: tags are frozen/)
  const midway = hooked.refs()
  t.equal(midway['refs/heads/release_candidate'], midway['refs/heads/master'], 'release_candidate actions were done')
  t.same(hooked.log('master')[0], 'version 2.0.1')
  const journal = readFileSync(join(s.dir, 'release_plan_journal.jsonl'), 'utf8').trim().split('\n')
  t.equal(journal.length, 2, 'two actions journaled')

  rmSync(marker)
  const rerun = await s.cli(['apply_release_plan', 'hooked'])
  t.equal(rerun.code, 0, rerun.stderr)
  t.match(rerun.stderr, /set_version bug_fix \(master\) to 2\.0\.1: already done \(journal\)/)
  const final = hooked.refs()
  t.equal(final['refs/heads/latest_release'], midway['refs/heads/master'])
  t.equal(final['refs/tags/2.0.0'], remotes['hooked']!.refs()['refs/tags/2.0.0'])
  t.notOk('refs/heads/release_candidate' in final)
  t.same(hooked.log('master').filter((m) => m.startsWith('version')), ['version 2.0.1'], 'the version was committed once')

  const withWarnings = await s.cli(['apply_release_plan', 'stale', 'ignore_warning=1'])
  t.equal(withWarnings.code, 0, withWarnings.stderr)
  t.equal(stale.refs()['refs/heads/latest_release'], stale.refs()['refs/heads/master'])
})
