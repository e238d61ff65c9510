// apply_release_plan's rename (copy a branch to its new name, then delete the old one) is one
// `git push --atomic` under the leases: when the remote refuses part of it, nothing of it is
// done. Before, the copy was pushed, then the deletion: a refused deletion left the copy made
// and the old branch kept. Real git: a bare remote whose pre-receive hook refuses to delete
// latest_release (standing for a concurrent push, or a protected branch).
import t from 'tap'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { cmakeVersion, TestRemote } from './helpers/git.js'
import { tempDir } from './helpers/tmp.js'

t.test('a rename refused in part changes nothing; allowed, it is done whole', async (t) => {
  const dir = tempDir(t, 'casa-rename-atomic-')
  const remote = new TestRemote(dir, 'soma-base')
  const old = remote.commit('master', { 'project_info.cmake': cmakeVersion('5.0.2') })
  remote.setRef('latest_release', old)
  remote.commit('master', { 'project_info.cmake': cmakeVersion('5.1.0'), 'src.c': 'int x;\n' })
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), `export default { releasePlan: { components: [{ project: 'soma', name: 'soma-base', url: '${remote.url}' }] } }\n`)
  const env = { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts') }
  const cli = (args: string[]) => runCli(['-r', dir, ...args], { env })

  const created = await cli(['create_release_plan'])
  t.equal(created.code, 0, created.stderr)
  const dry = await cli(['apply_release_plan', 'dry=1'])
  t.match(dry.stdout, /rename latest_release \(latest_release\) to tag 5\.0\.2/)

  const hook = join(remote.bare, 'hooks', 'pre-receive')
  writeFileSync(hook, `#!/bin/sh\nwhile read old new ref; do\n  if [ "$ref" = refs/heads/latest_release ] && [ "$new" = 0000000000000000000000000000000000000000 ]; then echo "latest_release is protected" >&2; exit 1; fi\ndone\n`)
  chmodSync(hook, 0o755)
  const before = remote.refs()
  const refused = await cli(['apply_release_plan'])
  t.not(refused.code, 0, 'the apply fails')
  t.match(refused.stderr, /latest_release is protected/, "the remote's reason")
  t.notOk('refs/tags/5.0.2' in remote.refs(), 'the tag was not made without the deletion')
  t.equal(remote.refs()['refs/heads/latest_release'], before['refs/heads/latest_release'], 'latest_release kept where it was')

  writeFileSync(hook, '#!/bin/sh\nexit 0\n')
  const applied = await cli(['apply_release_plan'])
  t.equal(applied.code, 0, applied.stderr)
  const after = remote.refs()
  t.equal(after['refs/tags/5.0.2'], old, 'old latest_release kept as tag 5.0.2')
  t.equal(after['refs/heads/latest_release'], before['refs/heads/master'], 'released from bug_fix')
})
