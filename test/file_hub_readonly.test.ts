// A file:// hub on a read-only file system: a real read-only bind mount (tests run as root
// here; skipped where mount is not allowed). Node's recursive mkdir answers ENOENT ("no such
// file or directory") when the file system refuses the directory; the message must give the
// real reason and name the directory, and the run leave nothing behind.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { workflowRepository } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

function readOnlyMount(dir: string): boolean {
  try {
    execFileSync('mount', ['--bind', dir, dir], { stdio: 'ignore' })
  } catch {
    return false
  }
  try {
    execFileSync('mount', ['-o', 'remount,ro,bind', dir], { stdio: 'ignore' })
    return true
  } catch {
    execFileSync('umount', [dir], { stdio: 'ignore' })
    return false
  }
}

t.test('publish_build_workflows to a file:// hub on a read-only mount: one line with the real reason', async (t) => {
  const hubRoot = tempDir(t, 'casa-ro-hub-')
  if (!readOnlyMount(hubRoot)) return t.plan(0, 'skipped: cannot make a read-only bind mount here (not root?)')
  t.teardown(() => execFileSync('umount', [hubRoot], { stdio: 'ignore' }))
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: 'file://${hubRoot}/new' } } }`)
  mkdirSync(join(repo.dir, 'brainvisa/master_ubuntu-22.04/conf'), { recursive: true })
  writeFileSync(join(repo.dir, 'brainvisa/master_ubuntu-22.04/conf/casa_distro.json'), '{}')

  const r = await runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env })
  t.equal(r.code, 1, r.stderr)
  const errors = r.stderr.split('\n').filter((line) => line.startsWith('error:'))
  t.same(errors, [`error: cannot create directory ${hubRoot}/new: EROFS: read-only file system, mkdir '${hubRoot}/new'`], r.stderr)
  t.notMatch(r.stderr, /ENOENT|no such file/)
  t.notMatch(r.stderr, /\n\s+at /, 'no stack trace')
  t.same(readdirSync(hubRoot), [], 'nothing left on the hub')
})
