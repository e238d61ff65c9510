// publish_build_workflows when the lock of a workflow cannot be released (a server that
// refuses removals, a connection lost): after a failure of that workflow, its own error is
// the one shown, and the lock left behind is a warning; after a mirror that went well, the
// lock left behind fails the workflow. Real sshd, one that refuses `remove` requests.
import t from 'tap'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'

let noRemove: Sshd
t.before(async () => {
  noRemove = await startSshd({ sftpDenied: ['remove'] })
})
t.teardown(() => noRemove?.stop())

function write(root: string, path: string, data: string) {
  mkdirSync(join(root, path, '..'), { recursive: true })
  writeFileSync(join(root, path), data)
}

t.test('a lock that cannot be released: the failure of the workflow is still its own error, the lock a warning', async (t) => {
  const remoteRoot = join(noRemove.root, 'unreleased')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(noRemove, remoteRoot)}' } }, ${sshConfig(noRemove)} }`)
  for (const w of ['a/conflict_s', 'b/good_s']) write(repo.dir, `${w}/conf/casa_distro.json`, '{}')
  write(repo.dir, 'a/conflict_s/file.txt', 'a file here')
  mkdirSync(join(remoteRoot, 'a/conflict_s/file.txt'), { recursive: true })

  const run = await runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env })
  t.equal(run.code, 1, run.stderr)
  t.notMatch(run.stderr, /\n\s+at /, 'no stack trace')
  const lines = run.stderr.split('\n').filter((line) => /^(error|warning): /.test(line))
  t.match(lines[0], /^warning: cannot remove sftp:\/\/\S+\/unreleased\/a\/conflict_s\/\.casa-mirror\.lock: .*: the lock is left behind$/, 'the lock left behind by the failed workflow, as a warning')
  t.match(lines[1], /^error: sftp:\/\/\S+\/unreleased\/a\/conflict_s\/file\.txt is a directory where \S+ is a file: remove it first$/, 'the failure of the workflow itself, not that of the lock')
  t.match(lines[2], /^error: cannot remove sftp:\/\/\S+\/unreleased\/b\/good_s\/\.casa-mirror\.lock: .*: the lock is left behind$/, 'a mirror that went well but kept its lock fails')
  t.same(lines.slice(3), ['error: 2 of 2 build workflows failed: a/conflict_s, b/good_s'])
  t.equal(readFileSync(join(remoteRoot, 'b/good_s/conf/casa_distro.json'), 'utf8'), '{}', 'the good one is mirrored')
})
