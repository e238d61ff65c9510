// The mirror cache of release plans with real git: a re-run with nothing changed neither
// fetches nor reads objects (git ls-remote matches, versions remembered per commit); a change
// fetches and reads that component only; a moved URL is followed; a damaged version cache or
// a remote gone are handled. The cat-file tree walk lists what `git ls-tree -r` lists.
import t from 'tap'
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parse } from 'yaml'
import { runCli } from './helpers/cli.js'
import { cmakeVersion, git, infoPyVersion, TestRemote } from './helpers/git.js'
import { tempDir } from './helpers/tmp.js'
import { GitSession } from '../lib/git/gitSession.js'
import { listFiles } from '../lib/git/gitObjects.js'
import { readPackedRefs } from '../lib/git/gitMirror.js'

/** The git commands a -v run echoed for `name`'s mirror or URL. */
const commandsFor = (stderr: string, name: string) =>
  stderr.split('\n').filter((l) => l.startsWith('$ git') && l.includes(name)).map((l) => l.split(' ').find((w) => ['clone', 'ls-remote', 'fetch', 'for-each-ref', 'cat-file', 'remote'].includes(w)))

t.test('re-runs: no fetch and no reads unless something changed', async (t) => {
  const root = tempDir(t, 'casa-mirror-remotes-')
  const a = new TestRemote(root, 'comp-a')
  const released = a.commit('master', { 'project_info.cmake': cmakeVersion('1.0.0') })
  a.setRef('latest_release', released)
  a.setRef('refs/tags/1.0.0', released)
  a.commit('master', { 'src.c': 'int a;\n' })
  const b = new TestRemote(root, 'comp-b')
  b.commit('master', { 'python/b/info.py': infoPyVersion('2.0.0') })
  const dir = tempDir(t, 'casa-mirror-repo-')
  const home = join(dir, '.home')
  mkdirSync(home)
  const writeConfig = (urlA: string) =>
    writeFileSync(join(dir, 'casa.config.ts'), `export default { releasePlan: { components: ${JSON.stringify([{ project: 'p', name: 'comp-a', url: urlA }, { project: 'p', name: 'comp-b', url: b.url }])} } }\n`)
  writeConfig(a.url)
  const cli = () => runCli(['-r', dir, '-v', 'create_release_plan'], { env: { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts') } })
  const plan = () => parse(readFileSync(join(dir, 'release_plan.yaml'), 'utf8'))

  const first = await cli()
  t.equal(first.code, 0, first.stderr)
  t.same(commandsFor(first.stderr, 'comp-a'), ['clone', 'cat-file'], 'cold: clone (refs read from packed-refs), read objects')
  const firstPlan = plan()

  const second = await cli()
  t.equal(second.code, 0, second.stderr)
  t.same(commandsFor(second.stderr, 'comp-a'), ['ls-remote'], 'nothing changed: no fetch, no reads, refs still in packed-refs')
  t.same(commandsFor(second.stderr, 'comp-b'), ['ls-remote'])
  t.same(plan(), firstPlan, 'the same plan')

  b.commit('master', { 'python/b/info.py': infoPyVersion('2.1.0') })
  const third = await cli()
  t.equal(third.code, 0, third.stderr)
  t.same(commandsFor(third.stderr, 'comp-a'), ['ls-remote'], 'the unchanged component is not fetched')
  t.same(commandsFor(third.stderr, 'comp-b'), ['ls-remote', 'remote', 'fetch', 'for-each-ref', 'cat-file'], 'the changed one is fetched and read')
  t.equal(plan().p['comp-b'].bug_fix.version, '2.1.0')
  t.equal(plan().p['comp-b'].bug_fix.revision, b.refs()['refs/heads/master'])

  // The repository moves: same refs, nothing to fetch; a push there is then fetched from the new URL.
  const moved = join(root, 'moved', 'comp-a.git')
  cpSync(a.bare, moved, { recursive: true })
  rmSync(a.bare, { recursive: true })
  writeConfig(pathToFileURL(moved).href)
  const fourth = await cli()
  t.equal(fourth.code, 0, fourth.stderr)
  t.same(commandsFor(fourth.stderr, 'moved/comp-a'), ['ls-remote'], 'the moved remote has the same refs')
  git(['--git-dir', moved, 'update-ref', 'refs/heads/master', released])
  const fifth = await cli()
  t.equal(fifth.code, 0, fifth.stderr)
  t.equal(plan().p['comp-a'].bug_fix.revision, released, 'fetched from the new URL')
  t.equal(git(['--git-dir', join(dir, '.release-plan-cache', 'p', 'comp-a.git'), 'config', 'remote.origin.url']), pathToFileURL(moved).href)
  t.match(plan().p['comp-a'].info_messages[0], /nothing to do/, 'latest_release now at bug_fix')

  // A damaged version cache is read again; a remote gone is an error for its component only.
  writeFileSync(join(dir, '.release-plan-cache', 'p', 'comp-b.git', 'casa-versions.json'), '{not json')
  rmSync(moved, { recursive: true })
  const sixth = await cli()
  t.equal(sixth.code, 0, sixth.stderr)
  t.same(commandsFor(sixth.stderr, 'comp-b'), ['ls-remote', 'for-each-ref', 'cat-file'], 'a fetched mirror has loose refs: git reads them')
  t.equal(plan().p['comp-b'].bug_fix.version, '2.1.0')
  t.match(plan().p['comp-a'].error_messages, [/^cannot read file:.*moved\/comp-a\.git: git ls-remote failed \(exit 128\): fatal: /])
})

t.test('the cat-file tree walk lists what git ls-tree -r --name-only lists', async (t) => {
  const root = tempDir(t, 'casa-mirror-walk-')
  const r = new TestRemote(root, 'walk')
  const files = { 'a.txt': '1', 'd1/b.txt': '2', 'd1/d2/info.py': infoPyVersion('1.2.3'), 'd1/d2/d3/deep.txt': '3', 'with space/x y.py': '4', 'é/ü.txt': '5' }
  const revision = r.commit('master', files)
  const session = await GitSession.open(r.bare, { url: r.url, temporary: '' })
  try {
    const reader = session.objects()
    const lsTree = git(['--git-dir', r.bare, 'ls-tree', '-r', '-z', '--name-only', revision]).split('\0').filter(Boolean)
    t.same(await listFiles(reader, revision, 99), lsTree.sort(), 'every file, names as they are (not quoted)')
    t.same(lsTree, Object.keys(files).sort())
    t.same(await listFiles(reader, revision, 3), Object.keys(files).filter((f) => f.split('/').length <= 3).sort(), 'down to 3 path components')
    t.equal((await reader.read(`${revision}:d1/d2/info.py`))?.data.toString(), files['d1/d2/info.py'])
    t.equal(await reader.read(`${revision}:missing.txt`), undefined)
    await t.rejects(listFiles(reader, 'refs/heads/nope', 3), /not a tree object/)
  } finally {
    await session.close()
  }
})

t.test("a fresh clone's packed-refs give what git for-each-ref gives, or nothing", async (t) => {
  const root = tempDir(t, 'casa-mirror-packed-')
  const r = new TestRemote(root, 'packed')
  const first = r.commit('master', { 'a.txt': '1' })
  r.commit('master', { 'a.txt': '2' })
  r.setRef('refs/heads/latest_release', first)
  r.setRef('refs/tags/v0.9', first)
  git(['--git-dir', r.bare, 'tag', '-a', '-m', 'release 1.0', '1.0', first])
  const clone = join(root, 'clone.git')
  git(['clone', '--mirror', '--quiet', r.url, clone])
  const listed = new Map(
    git(['--git-dir', clone, 'for-each-ref', '--format=%(refname) %(objectname) %(*objectname)'])
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [ref, object, peeled] = line.split(' ')
        return [ref!, { object: object!, peeled: peeled ?? '' }]
      }),
  )
  t.equal(listed.size, 4)
  t.same(readPackedRefs(clone), listed, 'the same refs, the annotated tag peeled')
  t.not(listed.get('refs/tags/1.0')!.peeled, '', 'the annotated tag was peeled by git too')
  git(['--git-dir', clone, 'update-ref', 'refs/heads/loose', first])
  t.equal(readPackedRefs(clone), undefined, 'a loose ref: git must be asked')
  t.equal(readPackedRefs(join(root, 'nowhere.git')), undefined, 'no packed-refs')
})
