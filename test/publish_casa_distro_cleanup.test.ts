// What a failed publish_casa_distro leaves on the hub: no empty directory it made itself (the
// hub directory and its missing parents), whether the upload was refused by the server or the
// run was interrupted (Ctrl-C, SIGTERM) half way; a directory that was there before, or that
// holds anything, stays. Real sshd (one refusing renames, so that every upload fails after
// its directories were made) and a real directory for file:// hubs.
import t from 'tap'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { zipArchive } from '../lib/distro/zipWriter.js'
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { binPath, runCli } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

let sshd: Sshd
let noRename: Sshd
t.before(async () => {
  ;[sshd, noRename] = await Promise.all([startSshd(), startSshd({ sftpDenied: ['rename', 'posix-rename'] })])
})
t.teardown(async () => {
  await sshd?.stop()
  await noRename?.stop()
})

const version = '9.9.9-cleanup'

/** A repository holding a zip (checked before publishing) of `size` random bytes for `version`, its config pointing at `url`. */
function repositoryFor(t: Parameters<typeof tempDir>[0], url: string, server: Sshd, size: number) {
  const repo = workflowRepository(t, `{ hubs: { casaDistro: { upload: '${url}' } }, ${sshConfig(server)} }`)
  writeFileSync(join(repo.dir, `casa-distro-${version}.zip`), zipArchive([{ name: `casa-distro-${version}/package.json`, data: Buffer.from(JSON.stringify({ version })) }, { name: `casa-distro-${version}/payload`, data: randomBytes(size) }]))
  return repo
}

/** Wait (20 s at most) until a temporary file in `dir` holds more than `bytes`. */
async function uploadPast(dir: string, bytes: number): Promise<boolean> {
  for (let i = 0; i < 1000; i++) {
    await new Promise((r) => setTimeout(r, 20))
    let names: string[] = []
    try {
      names = readdirSync(dir)
    } catch {
      continue // not made yet
    }
    const temp = names.find((n) => n.includes('.casa-tmp-'))
    if (temp && (statSync(join(dir, temp), { throwIfNoEntry: false })?.size ?? 0) > bytes) return true
  }
  return false
}

t.test('sftp: an upload the server refuses removes the directories the run made, only those', async (t) => {
  const top = join(noRename.root, 'refused')
  mkdirSync(join(top, 'kept'), { recursive: true })
  const hubRoot = join(top, 'kept', 'new', 'root')
  const repo = repositoryFor(t, sftpUrl(noRename, hubRoot), noRename, 1000)
  const failed = await runCli(['-r', repo.dir, 'publish_casa_distro', `package_version=${version}`], { env: repo.env })
  t.equal(failed.code, 1, failed.stderr)
  t.match(failed.stderr, /\nerror: cannot write sftp:\/\/\S+casa-distro-9\.9\.9-cleanup\.zip: /, 'one line naming the upload')
  t.notMatch(failed.stderr, /\n\s+at /, 'no stack trace')
  t.same(readdirSync(join(top, 'kept')), [], 'the directories made for the upload are gone, the one that was there stays')

  // a hub directory that was there before the run stays, even empty
  mkdirSync(hubRoot, { recursive: true })
  const again = await runCli(['-r', repo.dir, 'publish_casa_distro', `package_version=${version}`], { env: repo.env })
  t.equal(again.code, 1)
  t.same(readdirSync(hubRoot), [], 'the existing hub directory is left, empty')
})

for (const scheme of ['sftp', 'file'] as const) {
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    t.test(`${scheme}: ${signal} during the upload removes the directories the run made`, async (t) => {
      const top = scheme === 'sftp' ? join(sshd.root, `interrupted-${signal}`) : tempDir(t, 'casa-publish-int-')
      mkdirSync(join(top, 'kept'), { recursive: true })
      const hubRoot = join(top, 'kept', 'new', 'root')
      const url = scheme === 'sftp' ? sftpUrl(sshd, hubRoot) : `file://${hubRoot}`
      const repo = repositoryFor(t, url, sshd, 300_000_000)
      const child = spawn(process.execPath, [binPath, '-r', repo.dir, 'publish_casa_distro', `package_version=${version}`], {
        env: { ...process.env, ...repo.env, NO_COLOR: '1', CI: 'true' },
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let stderr = ''
      child.stderr!.on('data', (c) => (stderr += c))
      const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
      const uploading = await uploadPast(hubRoot, 1_000_000)
      child.kill(signal)
      t.ok(uploading, 'interrupted during the upload')
      t.equal(await exited, code, stderr)
      t.same(readdirSync(join(top, 'kept')), [], 'neither the temporary file nor the directories made for it are left')
    })
  }
}
