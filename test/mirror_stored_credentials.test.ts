// A mirror cached by a version that kept the URL's credentials in its config has them
// rewritten away on its next update (lib/git/gitMirror.ts). Credentials git could not be given
// (a percent-encoded control character) are refused in the configuration and plans; the old
// URL left in such a cache must not stop the update of a component whose URL is now fine,
// with a message about a URL the user no longer has anywhere.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { updateMirror, storedRemoteUrl } from '../lib/git/gitMirror.js'
import { tempDir } from './helpers/tmp.js'

const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString()

t.test('an old mirror whose stored URL has credentials with %0A: updated, the URL rewritten', async (t) => {
  const dir = tempDir(t, 'casa-mirror-creds-')
  const source = join(dir, 'source')
  git('init', '-q', '-b', 'master', source)
  writeFileSync(join(source, 'file'), 'one\n')
  git('-C', source, 'add', 'file')
  git('-C', source, 'commit', '-q', '-m', 'one')
  const mirror = join(dir, 'mirror.git')
  git('clone', '-q', '--mirror', source, mirror)
  git('-C', mirror, 'remote', 'set-url', 'origin', 'https://bob:old%0Apw@127.0.0.1:1/x.git')
  const url = pathToFileURL(source).href
  const refs = await updateMirror(mirror, url).catch((error: Error) => error)
  t.notOk(refs instanceof Error, `updated: ${(refs as Error).message}`)
  if (!(refs instanceof Error)) t.ok(refs.branches.has('master'), 'the branches read')
  t.equal(storedRemoteUrl(mirror), url, 'the stored URL is the one configured now')
})
