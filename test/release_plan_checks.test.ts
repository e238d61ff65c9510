// Release plans against mistakes: hand-edited plans checked before anything is pushed, config
// branch names checked, an apply re-run after a failure in the middle of a rename, and the
// other ways a run could fail with a stack trace or leave things half done. Real git
// repositories as remotes (file:// URLs), the CLI run as a user would.
import t from 'tap'
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { runCli } from './helpers/cli.js'
import { cmakeVersion, git, TestRemote } from './helpers/git.js'
import { tempDir } from './helpers/tmp.js'

/** A remote `delta` with master at 1.0.1 and latest_release at 1.0.0, and a workflow repository. */
function setup(t: { teardown(fn: () => void): void }, extra: Record<string, unknown> = {}) {
  const root = tempDir(t, 'casa-release-checks-')
  const remote = new TestRemote(root, 'delta')
  const old = remote.commit('master', { 'project_info.cmake': cmakeVersion('1.0.0') })
  remote.setRef('latest_release', old)
  remote.commit('master', { 'project_info.cmake': cmakeVersion('1.0.1') })
  const dir = join(root, 'repo')
  mkdirSync(join(dir, '.home'), { recursive: true })
  const config = join(dir, 'casa.config.ts')
  const writeConfig = (components: Record<string, unknown>[]) => writeFileSync(config, `export default { releasePlan: { components: ${JSON.stringify(components)} } }\n`)
  writeConfig([{ project: 'p', name: 'delta', url: remote.url, ...extra }])
  const env = { HOME: join(dir, '.home'), CASA_CONFIG: config }
  const planFile = join(dir, 'release_plan.yaml')
  return {
    dir,
    env,
    remote,
    planFile,
    writeConfig,
    cli: (args: string[]) => runCli(['-r', dir, ...args], { env }),
    plan: () => parse(readFileSync(planFile, 'utf8')),
    writePlan: (plan: unknown) => writeFileSync(planFile, stringify(plan)),
    journal: join(dir, 'release_plan_journal.jsonl'),
  }
}

t.test('a hand-edited plan is checked whole before anything is pushed', async (t) => {
  const s = setup(t)
  t.equal((await s.cli(['create_release_plan'])).code, 0)
  const original = s.plan()
  const before = s.remote.refs()
  const edits: [string, (c: any) => void, RegExp][] = [
    ['misspelled action', (c) => (c.todo.release_candidate = [['frobnicate', 'bug_fix']]), /p\/delta: todo\.release_candidate\[0\]: unknown action "frobnicate"/],
    ['action without arguments', (c) => (c.todo.release_candidate = [['copy']]), /p\/delta: todo\.release_candidate\[0\]: copy takes 2 arguments/],
    ['copy without target', (c) => (c.todo.release_candidate = [['copy', 'bug_fix']]), /p\/delta: todo\.release_candidate\[0\]: copy takes 2 arguments/],
    ['a bad action late in the plan', (c) => c.todo.latest_release.push(['delete', 'bug_fx']), /p\/delta: todo\.latest_release\[2\]: delete: unknown target "bug_fx".*did you mean "bug_fix"/],
    ['no vcs_url', (c) => delete c.bug_fix.vcs_url, /p\/delta: bug_fix\.vcs_url: expected a git URL/],
    ['a vcs_url git would read as an option', (c) => (c.bug_fix.vcs_url = '--upload-pack=true'), /p\/delta: bug_fix\.vcs_url: a git URL cannot start with "-" \(git would read it as an option\), got "--upload-pack=true"/],
    ['no branch', (c) => delete c.release_candidate.branch, /p\/delta: release_candidate\.branch: expected a branch or tag name/],
    ['a tag name with a space', (c) => (c.todo.latest_release[0] = ['rename', 'latest_release', 'tags/bad name']), /p\/delta: todo\.latest_release\[0\]: rename: "bad name" is not a valid git ref name \(contains a space\)/],
    ['a branch name git refuses', (c) => (c.latest_release.branch = 'release..x'), /p\/delta: latest_release\.branch: "release\.\.x" is not a valid git ref name/],
    ['two roles on one branch', (c) => (c.release_candidate.branch = 'master'), /p\/delta: release_candidate\.branch: "master" is also bug_fix's branch/],
    ['a revision that is not one', (c) => (c.bug_fix.revision = 'HEAD~1'), /p\/delta: bug_fix\.revision: expected a commit id or null/],
    ['a version that does not parse', (c) => (c.todo.release_candidate.unshift(['set_version', 'bug_fix', '1.0'])), /p\/delta: todo\.release_candidate\[0\]: set_version: expected a version major\.minor\.patch/],
  ]
  for (const [what, edit, message] of edits) {
    const plan = structuredClone(original)
    edit(plan.p.delta)
    s.writePlan(plan)
    const run = await s.cli(['apply_release_plan'])
    t.equal(run.code, 1, what)
    t.equal(run.stderr.trim().split('\n').length, 1, `${what}: one line`)
    t.match(run.stderr, /^error: .*release_plan\.yaml: /, what)
    t.match(run.stderr, message, what)
    t.notMatch(run.stderr, /internal error|    at /, `${what}: no stack trace`)
    t.same(s.remote.refs(), before, `${what}: nothing pushed`)
    t.notOk(existsSync(s.journal), `${what}: nothing journaled`)
  }
  s.writePlan(original)
  const applied = await s.cli(['apply_release_plan'])
  t.equal(applied.code, 0, applied.stderr)
})

t.test('apply re-run after a failure in the middle of a rename goes on from there', async (t) => {
  const s = setup(t)
  t.equal((await s.cli(['create_release_plan'])).code, 0)
  const before = s.remote.refs()
  git(['config', 'receive.denyDeletes', 'true'], s.remote.bare)
  const failed = await s.cli(['apply_release_plan'])
  t.equal(failed.code, 1)
  t.match(failed.stderr, /error: p\/delta: git push refs\/tags\/1\.0\.0 and refs\/heads\/latest_release .* failed/)
  // one atomic push: the copy half of the rename is not pushed without its deletion
  t.notOk('refs/tags/1.0.0' in s.remote.refs(), 'nothing of the rename was pushed')

  // dry=1 now shows what remains: the journaled release_candidate actions are said done, not listed.
  const todo = s.plan().p.delta.todo
  t.ok(todo.release_candidate.length && todo.latest_release.length, 'the plan has actions in both lists')
  const journal = readFileSync(s.journal, 'utf8')
  const dry = await s.cli(['apply_release_plan', 'dry=1'])
  t.equal(dry.code, 0, dry.stderr)
  const listed = dry.stdout.trim().split('\n')
  t.equal(listed.length, todo.latest_release.length, 'as many lines as latest_release actions')
  t.ok(listed.every((l) => /^p\/delta latest_release: /.test(l)), 'only the latest_release actions are listed to do')
  t.equal(dry.stderr.match(/p\/delta release_candidate: .*: already done \(journal\)/g)?.length, todo.release_candidate.length, 'the done ones are said done')
  t.equal(readFileSync(s.journal, 'utf8'), journal, 'the dry run journals nothing')

  git(['config', 'receive.denyDeletes', 'false'], s.remote.bare)
  const rerun = await s.cli(['apply_release_plan'])
  t.equal(rerun.code, 0, rerun.stderr)
  const after = s.remote.refs()
  t.equal(after['refs/tags/1.0.0'], before['refs/heads/latest_release'], 'old latest_release kept as tag 1.0.0')
  t.equal(after['refs/heads/latest_release'], before['refs/heads/master'], 'released')
  t.notOk('refs/heads/release_candidate' in after)
})

t.test('config: branch names git refuses and two roles on one branch are refused', async (t) => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['empty branch', { latestRelease: '' }, /releasePlan\.components\[0\]\.latestRelease: expected a branch name git accepts, got "" \(empty\)/],
    ['branch with a space', { releaseCandidate: 'rc 1' }, /releasePlan\.components\[0\]\.releaseCandidate: expected a branch name git accepts, got "rc 1" \(contains a space\)/],
    ['two roles on one branch', { bugFix: 'dev', releaseCandidate: 'dev' }, /releasePlan\.components\[0\]: bugFix and releaseCandidate are both branch "dev"/],
    ['a role on a default branch', { releaseCandidate: 'master' }, /releasePlan\.components\[0\]: bugFix and releaseCandidate are both branch "master"/],
    // git would read these as options: the second runs a command where git would run upload-pack
    ['a URL starting with -', { url: '-oops' }, /releasePlan\.components\[0\]\.url: component p\/delta: a git URL cannot start with "-" \(git would read it as an option\), got "-oops"$/m],
    ['a URL that is a git option', { url: `--upload-pack=touch ${join(tmpdir(), 'casa-url-option-ran')};:` }, /releasePlan\.components\[0\]\.url: component p\/delta: a git URL cannot start with "-"/],
    // redact() could not tell where such a password ends: refused before it shows anywhere
    ['a password with a space', { url: 'https://user:SECRET pw@forge.org/delta.git' }, /releasePlan\.components\[0\]\.url: component p\/delta: the user name or password of "https:\/\/\*\*\*@forge\.org\/delta\.git" holds a space, a control character, " < or > as it is: percent-encode it \(a space is %20, " is %22\)$/m],
    ['a token with a quote', { url: 'http://SECRET"tok@forge.org/delta.git' }, /component p\/delta: the user name or password of "http:\/\/\*\*\*@forge\.org\/delta\.git" holds/],
    ['a password with a newline', { url: 'https://u:SECRET\npw@forge.org/delta.git' }, /component p\/delta: the user name or password of "https:\/\/\*\*\*@forge\.org\/delta\.git" holds/],
    // percent-encoded, the same control characters would reach git's line-based credential protocol (or a NUL an environment variable)
    ['a password with a percent-encoded newline', { url: 'https://u:SECRET%0Apw@forge.org/delta.git' }, /component p\/delta: the user name or password of "https:\/\/\*\*\*@forge\.org\/delta\.git" holds a control character once percent-decoded/],
    ['a user name with a percent-encoded NUL', { url: 'https://SECRET%00u:pw@forge.org/delta.git' }, /component p\/delta: the user name or password of "https:\/\/\*\*\*@forge\.org\/delta\.git" holds a control character once percent-decoded/],
  ]
  for (const [what, extra, message] of cases) {
    const s = setup(t, extra)
    const before = s.remote.refs()
    const run = await s.cli(['create_release_plan'])
    t.equal(run.code, 1, what)
    t.equal(run.stderr.trim().split('\n').length, 1, `${what}: one line`)
    t.match(run.stderr, /^error: /, what)
    t.match(run.stderr, message, what)
    t.notMatch(run.stderr, /SECRET/, `${what}: no secret shown`)
    t.notOk(existsSync(s.planFile), `${what}: no plan written`)
    t.notOk(existsSync(join(s.dir, '.release-plan-cache')), `${what}: no mirror cache made`)
    t.same(s.remote.refs(), before, `${what}: nothing pushed`)
  }
  t.notOk(existsSync(join(tmpdir(), 'casa-url-option-ran')), 'git never ran the URL as an option')
  const s = setup(t, { bugFix: 'master', releaseCandidate: 'rc/1.0', latestRelease: 'stable' })
  const ok = await s.cli(['create_release_plan'])
  t.equal(ok.code, 0, ok.stderr)
})

t.test('update_release_plan: a component moved to another project loses its old entry', async (t) => {
  const s = setup(t)
  t.equal((await s.cli(['create_release_plan'])).code, 0)
  s.writeConfig([{ project: 'q', name: 'delta', url: s.remote.url }])
  const updated = await s.cli(['update_release_plan'])
  t.equal(updated.code, 0, updated.stderr)
  t.same(Object.keys(s.plan()), ['q'], 'the entry under p is gone')
  const applied = await s.cli(['apply_release_plan'])
  t.equal(applied.code, 0, applied.stderr)
  t.notOk('refs/heads/release_candidate' in s.remote.refs(), 'no stray release_candidate')
})

t.test('apply_release_plan: a filter matching no component is an error, as for create', async (t) => {
  const s = setup(t)
  t.equal((await s.cli(['create_release_plan'])).code, 0)
  for (const task of ['create_release_plan', 'update_release_plan', 'apply_release_plan']) {
    const run = await s.cli([task, 'components=nomatch'])
    t.equal(run.code, 1, task)
    t.equal(run.stderr.trim(), 'error: No component match filter "nomatch"', task)
  }
})

t.test('release_plan_decisions.yaml: an unknown key is refused with a suggestion', async (t) => {
  const s = setup(t)
  const decisions = join(s.dir, 'release_plan_decisions.yaml')
  mkdirSync(s.dir, { recursive: true })
  writeFileSync(decisions, 'ignor:\n  component: [delta]\n')
  const top = await s.cli(['create_release_plan'])
  t.equal(top.code, 1)
  t.match(top.stderr.trim(), /^error: .*release_plan_decisions\.yaml: unknown key ignor \(did you mean "ignore"\?\)$/)
  t.notOk(existsSync(s.planFile), 'no plan written')
  writeFileSync(decisions, 'ignore:\n  components: [delta]\n')
  const inner = await s.cli(['create_release_plan'])
  t.equal(inner.code, 1)
  t.match(inner.stderr.trim(), /^error: .*release_plan_decisions\.yaml: unknown key ignore\.components \(did you mean "component"\?\)$/)
})

t.test('plan files: a repository that is a file, a page that cannot be written', async (t) => {
  const s = setup(t)
  const file = join(s.dir, 'not-a-directory')
  writeFileSync(file, '')
  const onFile = await runCli(['-r', file, 'create_release_plan'], { env: s.env })
  t.equal(onFile.code, 1)
  t.match(onFile.stderr.trim(), /^error: .*not-a-directory: not a directory \(the workflow repository/)
  t.equal(onFile.stderr.trim().split('\n').length, 1, 'one line')

  t.equal((await s.cli(['create_release_plan'])).code, 0)
  const yaml = readFileSync(s.planFile, 'utf8')
  const html = join(s.dir, 'release_plan.html')
  rmSync(html)
  mkdirSync(html)
  s.remote.commit('master', { 'fix.txt': 'fix\n' })
  const blocked = await s.cli(['update_release_plan'])
  t.equal(blocked.code, 1)
  t.match(blocked.stderr, /^error: cannot write .*release_plan\.html: not a regular file$/m)
  t.notMatch(blocked.stderr, /internal error|    at /)
  t.equal(readFileSync(s.planFile, 'utf8'), yaml, 'release_plan.yaml left as it was, agreeing with the page')
  t.same(readdirSync(s.dir).filter((f) => f.includes('.tmp-')), [], 'no temporary left')

  rmSync(html, { recursive: true })
  const rerun = await s.cli(['update_release_plan'])
  t.equal(rerun.code, 0, rerun.stderr)
  t.not(readFileSync(s.planFile, 'utf8'), yaml, 'the re-run writes both')
  t.ok(existsSync(html))
})

t.test('a journal line that is not an entry is one line naming the file and line', async (t) => {
  const s = setup(t)
  t.equal((await s.cli(['create_release_plan'])).code, 0)
  writeFileSync(s.journal, '\nnull\n')
  const run = await s.cli(['apply_release_plan'])
  t.equal(run.code, 1)
  t.match(run.stderr.trim(), /^error: .*release_plan_journal\.jsonl:2: not a journal entry/)
  t.equal(run.stderr.trim().split('\n').length, 1, 'one line')
})

t.test('a revision the remote does not hold: git says why the push failed', async (t) => {
  const s = setup(t)
  t.equal((await s.cli(['create_release_plan'])).code, 0)
  const plan = s.plan()
  plan.p.delta.bug_fix.revision = '0123456789abcdef0123456789abcdef01234567'
  s.writePlan(plan)
  const run = await s.cli(['apply_release_plan'])
  t.equal(run.code, 1)
  t.match(run.stderr, /error: p\/delta: git push refs\/heads\/release_candidate to .* failed: fatal: bad object 0123456789abcdef0123456789abcdef01234567$/m)
})

t.test('apply: a mirror that cannot be refreshed names its component', async (t) => {
  const s = setup(t)
  t.equal((await s.cli(['create_release_plan'])).code, 0)
  const before = s.remote.refs()
  const moved = `${s.remote.bare}.moved`
  renameSync(s.remote.bare, moved) // the remote is gone; the mirror stays
  const run = await s.cli(['apply_release_plan'])
  t.equal(run.code, 1)
  t.equal(run.stderr.trim().split('\n').length, 1, 'one line')
  t.match(run.stderr.trim(), /^error: p\/delta: cannot read file:\/\/.*delta\.git: git ls-remote .*failed/)
  t.notOk(existsSync(s.journal), 'nothing journaled')
  renameSync(moved, s.remote.bare)
  t.same(s.remote.refs(), before, 'nothing pushed')
})

t.test('apply: a version commit pushed but not journaled (a crash then) is taken as done; another commit is not', async (t) => {
  const s = setup(t)
  const planned = s.remote.commit('master', { 'project_info.cmake': cmakeVersion('1.0.0'), 'src.c': 'int a;\n' }) // 1.0.0 again: a new version is set
  t.equal((await s.cli(['create_release_plan'])).code, 0)
  t.same(s.plan().p.delta.todo.release_candidate[0], ['set_version', 'bug_fix', '1.0.1'])

  // Someone else's commit, with the same parent and message but another tree, is not ours.
  s.remote.commit('master', { 'other.txt': 'theirs\n' }, { message: 'version 1.0.1' })
  const stopped = await s.cli(['apply_release_plan'])
  t.equal(stopped.code, 1)
  t.match(stopped.stderr, /p\/delta: refs\/heads\/master was expected at .*: someone pushed since the plan was made/)
  s.remote.setRef('master', planned)

  // The version commit is pushed, then the run stops before journaling it.
  const hook = join(s.remote.bare, 'hooks', 'pre-receive')
  writeFileSync(hook, '#!/bin/sh\nwhile read old new ref; do [ "$ref" = refs/heads/release_candidate ] && exit 1; done\nexit 0\n')
  chmodSync(hook, 0o755)
  const half = await s.cli(['apply_release_plan'])
  t.equal(half.code, 1)
  const versioned = s.remote.refs()['refs/heads/master']!
  t.not(versioned, planned, 'the version commit was pushed')
  t.equal(git(['log', '-1', '--format=%P %s', versioned], s.remote.bare), `${planned} version 1.0.1`)
  writeFileSync(s.journal, '') // as if the run had stopped right after the push
  rmSync(hook)

  const rerun = await s.cli(['apply_release_plan'])
  t.equal(rerun.code, 0, rerun.stderr)
  t.match(rerun.stderr, /p\/delta: refs\/heads\/master is already at [0-9a-f]{10}, the version 1\.0\.1 commit this run would make: taken as done/)
  const after = s.remote.refs()
  t.equal(after['refs/heads/master'], versioned, 'the version commit is kept, not made again')
  t.equal(after['refs/heads/latest_release'], versioned, 'released')
  t.same(git(['log', '--format=%s', 'master'], s.remote.bare).split('\n').filter((m) => m.startsWith('version')), ['version 1.0.1'], 'the version was committed once')
})

t.test("ref names: git's check-ref-format rules", async (t) => {
  const { refNameProblem } = await import('../lib/git/gitRefName.js')
  for (const name of ['master', 'release_candidate', 'rc/1.0', 'v1.0.0', 'a-b_c.d', 'x@y']) t.equal(refNameProblem(name), undefined, name)
  for (const name of ['', 'bad name', 'a..b', 'a/', '/a', 'a//b', '.a', 'a/.b', 'a.lock', 'a/b.lock/c', 'a.', 'a~1', 'a^', 'a:b', 'a?', 'a*', 'a[', 'a\\b', 'a@{1}', '@', 'HEAD', '-a', 'a\tb', 'a\x7fb']) t.type(refNameProblem(name), 'string', JSON.stringify(name))
})
