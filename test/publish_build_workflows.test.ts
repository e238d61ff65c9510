// publish_build_workflows end to end against OpenSSH sshd: mirror with deletions, a second
// run that transfers nothing, --dry-run, checksum=1, and an upload killed half way (the old
// file stays whole, readers never see a partial file, the re-run completes and cleans up).
import t from 'tap'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { binPath, runCli } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpBatch, sftpGet, sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex')

function tree(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return []
  return readdirSync(dir)
    .sort()
    .flatMap((name) => (statSync(join(dir, name)).isDirectory() ? tree(join(dir, name), `${prefix}${name}/`) : [`${prefix}${name}`]))
}

function write(root: string, path: string, data: string | Buffer) {
  mkdirSync(join(root, path, '..'), { recursive: true })
  writeFileSync(join(root, path), data)
}

t.test('mirror with deletions; second run transfers nothing; dry run; checksum', async (t) => {
  const remoteRoot = join(sshd.root, 'bw')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, remoteRoot)}' } }, ${sshConfig(sshd)} }`)
  const local = repo.dir
  write(local, 'brainvisa/master_ubuntu-22.04/conf/casa_distro.json', '{"distro":"brainvisa"}')
  write(local, 'brainvisa/master_ubuntu-22.04/conf/bv_maker.cfg', '[ source $CASA_SRC ]\n')
  write(local, 'brainvisa/master_ubuntu-22.04/data/big.bin', randomBytes(300_000))
  write(local, 'brainvisa/master_ubuntu-22.04/old/gone.txt', 'to delete')
  for (const name of ['sub/a.txt', 'sub/b.txt', 'sub/deeper/c.txt']) write(local, `brainvisa/master_ubuntu-22.04/old/${name}`, name)
  write(local, 'brainvisa/5.1_ubuntu-18.04/conf/casa_distro.json', '{}')
  write(local, 'opensource/master_ubuntu-22.04/conf/casa_distro.json', '{}')
  write(local, 'notaworkflow/x_y/readme.txt', 'no conf/casa_distro.json here')

  const dry = await runCli(['-r', local, 'publish_build_workflows', 'distro=brainvisa', 'branch=master', '--dry-run'], { env: repo.env })
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, /upload\s+brainvisa\/master_ubuntu-22\.04\/data\/big\.bin\s+300\.0 kB \(new\)/)
  t.notMatch(dry.stdout, /5\.1_ubuntu/, 'the branch filter applies')
  t.notOk(existsSync(remoteRoot), 'a dry run changes nothing')

  const first = await runCli(['-r', local, 'publish_build_workflows', 'system=ubuntu-22.04'], { env: repo.env })
  t.equal(first.code, 0, first.stderr)
  t.same(tree(remoteRoot), [
    'brainvisa/master_ubuntu-22.04/conf/bv_maker.cfg',
    'brainvisa/master_ubuntu-22.04/conf/casa_distro.json',
    'brainvisa/master_ubuntu-22.04/data/big.bin',
    'brainvisa/master_ubuntu-22.04/old/gone.txt',
    'brainvisa/master_ubuntu-22.04/old/sub/a.txt',
    'brainvisa/master_ubuntu-22.04/old/sub/b.txt',
    'brainvisa/master_ubuntu-22.04/old/sub/deeper/c.txt',
    'opensource/master_ubuntu-22.04/conf/casa_distro.json',
  ])
  t.match(first.stderr, /brainvisa\/master_ubuntu-22\.04: 7 uploaded \(300\.\d kB\), 0 deleted/)
  const big = readFileSync(join(local, 'brainvisa/master_ubuntu-22.04/data/big.bin'))
  t.equal(sha(sftpGet(sshd, `${remoteRoot}/brainvisa/master_ubuntu-22.04/data/big.bin`, tempDir(t))), sha(big), 'OpenSSH sftp reads the same bytes')
  t.match(sftpBatch(sshd, [`ls -l ${remoteRoot}/brainvisa/master_ubuntu-22.04/data`]), /-rw-r--r-- .* 300000 /)

  const again = await runCli(['-r', local, 'publish_build_workflows', 'system=ubuntu-22.04'], { env: repo.env })
  t.equal(again.code, 0, again.stderr)
  t.match(again.stderr, /brainvisa\/master_ubuntu-22\.04: 0 uploaded \(0 B\), 0 deleted, 7 unchanged/, 'the second run transfers nothing')
  t.match(again.stderr, /opensource\/master_ubuntu-22\.04: 0 uploaded \(0 B\), 0 deleted, 1 unchanged/)

  // a deletion, a change, a new file, and a stale temporary file of an interrupted run
  rmSync(join(local, 'brainvisa/master_ubuntu-22.04/old'), { recursive: true })
  write(local, 'brainvisa/master_ubuntu-22.04/conf/casa_distro.json', '{"distro":"brainvisa","v":2}')
  write(local, 'brainvisa/master_ubuntu-22.04/conf/new.txt', 'new')
  write(remoteRoot, 'brainvisa/master_ubuntu-22.04/data/.big.bin.casa-tmp-999-abc', 'partial')
  const planned = await runCli(['-r', local, 'publish_build_workflows', 'distro=brainvisa', 'branch=master', '--dry-run'], { env: repo.env })
  t.equal(planned.code, 0, planned.stderr)
  t.match(planned.stdout, /upload\s+brainvisa\/master_ubuntu-22\.04\/conf\/casa_distro\.json\s+\S+ B \(size\)/)
  t.match(planned.stdout, /upload\s+brainvisa\/master_ubuntu-22\.04\/conf\/new\.txt/)
  t.match(planned.stdout, /delete\s+brainvisa\/master_ubuntu-22\.04\/old\/gone\.txt/)
  t.match(planned.stdout, /delete\s+brainvisa\/master_ubuntu-22\.04\/old\n/)
  t.match(planned.stdout, /delete\s+brainvisa\/master_ubuntu-22\.04\/data\/\.big\.bin\.casa-tmp-999-abc/)
  t.ok(planned.stdout.indexOf('upload') < planned.stdout.indexOf('delete'), 'uploads are listed before deletions')
  const deletedAt = (dir: string) => planned.stdout.search(new RegExp(`delete\\s+brainvisa/master_ubuntu-22\\.04/${dir}\n`))
  t.ok(deletedAt('old/sub/deeper') > planned.stdout.indexOf('old/sub/deeper/c.txt'), 'a directory after the files in it')
  t.ok(deletedAt('old/sub/deeper') < deletedAt('old/sub') && deletedAt('old/sub') < deletedAt('old'), 'directories deepest first')
  const third = await runCli(['-r', local, 'publish_build_workflows', 'distro=brainvisa', 'branch=master'], { env: repo.env })
  t.equal(third.code, 0, third.stderr)
  t.match(third.stderr, /2 uploaded \(\d+ B\), 8 deleted, 2 unchanged/)
  t.same(tree(join(remoteRoot, 'brainvisa')), ['master_ubuntu-22.04/conf/bv_maker.cfg', 'master_ubuntu-22.04/conf/casa_distro.json', 'master_ubuntu-22.04/conf/new.txt', 'master_ubuntu-22.04/data/big.bin'])
  t.equal(readFileSync(join(remoteRoot, 'brainvisa/master_ubuntu-22.04/conf/casa_distro.json'), 'utf8'), '{"distro":"brainvisa","v":2}')

  // same size and same mtime but other bytes: only checksum=1 sees it
  const cfg = join(local, 'brainvisa/master_ubuntu-22.04/conf/bv_maker.cfg')
  const { mtime } = statSync(cfg)
  writeFileSync(cfg, '[ source $CASA_XXX ]\n')
  utimesSync(cfg, mtime, mtime)
  const bySize = await runCli(['-r', local, 'publish_build_workflows', 'distro=brainvisa', 'branch=master', '--dry-run'], { env: repo.env })
  t.match(bySize.stdout, /up to date/, 'size and mtime equal: seen as up to date')
  const byChecksum = await runCli(['-r', local, 'publish_build_workflows', 'distro=brainvisa', 'branch=master', 'checksum=1'], { env: repo.env })
  t.equal(byChecksum.code, 0, byChecksum.stderr)
  t.match(byChecksum.stderr, /1 uploaded \(21 B\), 0 deleted, 3 unchanged/)
  t.equal(readFileSync(join(remoteRoot, 'brainvisa/master_ubuntu-22.04/conf/bv_maker.cfg'), 'utf8'), '[ source $CASA_XXX ]\n')

  const none = await runCli(['-r', local, 'publish_build_workflows', 'distro=nothing'], { env: repo.env })
  t.equal(none.code, 1)
  t.match(none.stderr, /^error: No build workflow match distro="nothing" branch="\*" system="\*" in /)
})

t.test('an upload killed half way leaves the old file whole; readers never see a partial file; the re-run completes', async (t) => {
  const remoteRoot = join(sshd.root, 'kill')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, remoteRoot)}' } }, ${sshConfig(sshd)} }`)
  const local = repo.dir
  const oldData = randomBytes(8_000_000)
  write(local, 'd/b_s/conf/casa_distro.json', '{}')
  write(local, 'd/b_s/big.bin', oldData)
  const first = await runCli(['-r', local, 'publish_build_workflows'], { env: repo.env })
  t.equal(first.code, 0, first.stderr)
  const remoteDir = join(remoteRoot, 'd', 'b_s')
  const newData = randomBytes(200_000_000)
  write(local, 'd/b_s/big.bin', newData)
  const [oldSha, newSha] = [sha(oldData), sha(newData)]

  // kill -9 once the temporary file holds 20 MB
  const child = spawn(process.execPath, [binPath, '-r', local, 'publish_build_workflows'], { env: { ...process.env, ...repo.env, NO_COLOR: '1', CI: 'true' }, stdio: 'ignore' })
  const exited = new Promise((resolve) => child.on('exit', resolve))
  let killedAt = 0
  for (let i = 0; i < 600 && !killedAt; i++) {
    await new Promise((r) => setTimeout(r, 20))
    const temp = readdirSync(remoteDir).find((n) => n.startsWith('.big.bin.casa-tmp-'))
    const size = temp ? statSync(join(remoteDir, temp)).size : 0
    if (size > 20_000_000) {
      child.kill('SIGKILL')
      killedAt = size
    }
  }
  await exited
  t.ok(killedAt > 0 && killedAt < newData.length, `killed half way (${killedAt} bytes in the temporary file)`)
  t.equal(sha(readFileSync(join(remoteDir, 'big.bin'))), oldSha, 'the old file is whole')
  t.ok(readdirSync(remoteDir).some((n) => n.includes('.casa-tmp-')), 'the killed run left its temporary file')

  // the re-run, with a reader polling the file all along
  let reading = true
  const seen = new Set<string>()
  const reader = (async () => {
    while (reading) {
      seen.add(sha(readFileSync(join(remoteDir, 'big.bin'))))
      await new Promise((r) => setImmediate(r))
    }
  })()
  const rerun = await runCli(['-r', local, 'publish_build_workflows'], { env: repo.env })
  reading = false
  await reader
  t.equal(rerun.code, 0, rerun.stderr)
  t.ok([...seen].every((s) => s === oldSha || s === newSha), `the reader saw only whole files (${seen.size} distinct)`)
  t.equal(sha(sftpGet(sshd, join(remoteDir, 'big.bin'), tempDir(t))), newSha, 'the new file is in place (read with OpenSSH sftp)')
  t.same(readdirSync(remoteDir).filter((n) => n.includes('.casa-tmp-')), [], 'the leftover temporary file was removed')
})

t.test('Ctrl-C during an upload: exit 130, the temporary file is removed, the old file stays', async (t) => {
  const remoteRoot = join(sshd.root, 'sigint')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, remoteRoot)}' } }, ${sshConfig(sshd)} }`)
  const local = repo.dir
  write(local, 'd/b_s/conf/casa_distro.json', '{}')
  write(local, 'd/b_s/big.bin', 'old')
  t.equal((await runCli(['-r', local, 'publish_build_workflows'], { env: repo.env })).code, 0)
  write(local, 'd/b_s/big.bin', randomBytes(200_000_000))
  const remoteDir = join(remoteRoot, 'd', 'b_s')
  const child = spawn(process.execPath, [binPath, '-r', local, 'publish_build_workflows'], { env: { ...process.env, ...repo.env, NO_COLOR: '1', CI: 'true' }, stdio: 'ignore' })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  let sent = false
  for (let i = 0; i < 600 && !sent; i++) {
    await new Promise((r) => setTimeout(r, 20))
    const temp = readdirSync(remoteDir).find((n) => n.startsWith('.big.bin.casa-tmp-'))
    if (temp && statSync(join(remoteDir, temp)).size > 10_000_000) {
      child.kill('SIGINT')
      sent = true
    }
  }
  t.ok(sent, 'interrupted during the upload')
  t.equal(await exited, 130)
  t.equal(readFileSync(join(remoteDir, 'big.bin'), 'utf8'), 'old', 'the old file is whole')
  t.same(readdirSync(remoteDir).filter((n) => n.includes('.casa-tmp-')), [], 'the temporary file was removed')
})
