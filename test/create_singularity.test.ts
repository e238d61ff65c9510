// create_singularity end to end: real docker images converted by the real command, read by
// siftool, unpacked with sqfs2tar/unsquashfs, run with chroot (we are root) against docker run.
import t from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { ensureBusyboxImage } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

const ns = 'casa-test-sif'
const image = `${ns}/layout:1`
const bigImage = `${ns}/big:1`
const sh = (cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, env: options.env ?? process.env, input: options.input, stdio: ['pipe', 'pipe', 'pipe'] })

const longDir = `deep/${'d'.repeat(60)}/${'e'.repeat(60)}`
const base = ensureBusyboxImage()

function build(tag: string, lines: string[]): void {
  const context = tempDir(t, 'casa-sif-ctx-')
  writeFileSync(join(context, 'Dockerfile'), [`FROM ${base}`, ...lines, ''].join('\n'))
  sh('docker', ['build', '--network=host', '-q', '-t', tag, context])
}

build(image, [
  `RUN mkdir -p /data/empty /${longDir} /.singularity.d/env && ln -s /data/target /data/link && echo content > /data/target && ln /data/target /data/hard` +
    ` && echo x > /data/suid && chmod 4755 /data/suid && echo u > /data/user && chown 1000:1000 /data/user` +
    ` && echo long > /${longDir}/file-with-a-long-name.txt && echo é > '/data/héllo wörld ✓.txt'` +
    ` && echo 'echo image runscript' > /.singularity.d/runscript && echo 'export CUSTOM=1' > /.singularity.d/env/50-custom.sh` +
    ` && echo '10.0.0.1 image-host' > /etc/hosts`,
  'ENV FOO=bar PATH=/usr/local/bin:/usr/bin:/bin LD_LIBRARY_PATH=/opt/lib',
  'LABEL org.example.purpose="sif test"',
  'ENTRYPOINT ["/bin/sh", "-c", "echo args: \\"$@\\"; echo FOO=$FOO", "entry"]',
  'CMD ["c1", "c 2"]',
])
t.teardown(() => {
  spawnSync('docker', ['image', 'rm', '-f', image, bigImage])
})

function repository(): { dir: string; env: Record<string, string> } {
  const dir = tempDir(t, 'casa-sif-repo-')
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), 'export default { singularity: { compressor: "gzip" } }\n')
  return { dir, env: { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts') } }
}

interface Entry {
  mode: string
  owner: string
  size: string
  link: string
}

/** `tar -tv` of a tar stream: path -> mode, numeric owner, size, link target. */
function listing(tarBytes: Buffer): Map<string, Entry> {
  const out = execFileSync('tar', ['-tv', '--numeric-owner', '--quoting-style=literal', '-f', '-'], { input: tarBytes, encoding: 'utf8', maxBuffer: 1 << 28 })
  const entries = new Map<string, Entry>()
  for (const line of out.split('\n').filter(Boolean)) {
    const m = /^(\S+) (\S+)\s+(\d+) \S+ \S+ (.*)$/.exec(line)
    if (!m) continue
    let name = m[4]!
    let link = ''
    const arrow = name.indexOf(' -> ')
    const hard = name.indexOf(' link to ')
    if (arrow !== -1) [name, link] = [name.slice(0, arrow), `-> ${name.slice(arrow + 4)}`]
    else if (hard !== -1) [name, link] = [name.slice(0, hard), 'hard']
    name = name.replace(/^\.\//, '').replace(/\/$/, '')
    if (!name || name === '.') continue
    entries.set(name, { mode: m[1]!, owner: m[2]!, size: link === 'hard' ? '' : m[3]!, link })
  }
  return entries
}

const generated = new Set([
  '.singularity.d/actions/exec',
  '.singularity.d/actions/run',
  '.singularity.d/actions/shell',
  '.singularity.d/actions/start',
  '.singularity.d/actions/test',
  '.singularity.d/env/10-docker2singularity.sh',
  '.singularity.d/env/90-environment.sh',
  '.singularity.d/env/99-base.sh',
  '.singularity.d/env/99-runtimevars.sh',
  '.singularity.d/runscript',
  '.singularity.d/labels.json',
  'singularity',
  '.run',
  '.exec',
  '.shell',
  '.test',
  'environment',
])
const addedDirs = new Set(['.singularity.d/actions', '.singularity.d/libs', 'var/tmp', 'tmp', 'home', 'root', 'var'])

t.test('converts an image: siftool reads it, the partition holds the export plus the runtime layout, it runs like docker', async (t) => {
  const repo = repository()
  const result = await runCli(['-r', repo.dir, 'create_singularity', `image_names=${ns}/layout:*`], { env: repo.env })
  t.equal(result.code, 0, result.stderr)
  const sif = join(repo.dir, 'casa-test-sif_layout_1.sif')
  t.ok(existsSync(sif), 'the .sif file is written')
  t.equal(readFileSync(`${sif}.dockerid`, 'utf8').trim(), sh('docker', ['image', 'inspect', '-f', '{{.Id}}', image]).trim())
  t.equal(readFileSync(`${sif}.md5`, 'utf8').trim(), sh('md5sum', [sif]).split(' ')[0])
  t.same(readdirSync(repo.dir).filter((f) => f.startsWith('.casa') || f.includes('.tmp-')), [], 'no temporary file left')

  const header = sh('siftool', ['header', sif])
  t.match(header, /Primary Architecture:\s+amd64/)
  t.match(header, /Descriptors Total:\s+48/)
  const list = sh('siftool', ['list', sif])
  t.match(list, /Def\.FILE/)
  t.match(list, /JSON\.Labels/)
  t.match(list, /FS \(Squashfs\/\*System\/amd64\)/)
  const info = sh('siftool', ['info', '3', sif])
  t.match(info, /Squashfs/)
  t.match(sh('siftool', ['dump', '1', sif]), /from: casa-test-sif\/layout:1/)
  const labels = JSON.parse(sh('siftool', ['dump', '2', sif]))
  t.equal(labels['org.example.purpose'], 'sif test')

  const work = tempDir(t, 'casa-sif-unpack-')
  const part = join(work, 'part.sqfs')
  writeFileSync(part, execFileSync('siftool', ['dump', '3', sif], { maxBuffer: 1 << 28 }))
  const ours = listing(execFileSync('sqfs2tar', [part], { maxBuffer: 1 << 28 }))

  // The docker export of the same image, as docker gives it.
  const container = sh('docker', ['create', '--entrypoint', '/x', image]).trim()
  const exported = execFileSync('docker', ['export', container], { maxBuffer: 1 << 28 })
  sh('docker', ['rm', '-f', container])
  const theirs = listing(exported)

  for (const [path, entry] of theirs) {
    if (generated.has(path)) continue
    const mine = ours.get(path)
    if (!mine) {
      t.fail(`missing from the image: ${path}`)
      continue
    }
    if (entry.link === 'hard' || mine.link === 'hard') continue // which of a pair is "the link" is order-dependent
    t.same(mine, entry, `same entry: ${path}`)
  }
  for (const path of ours.keys()) {
    if (!theirs.has(path)) t.ok(generated.has(path) || addedDirs.has(path) || path === '.singularity.d/env', `only generated entries are added: ${path}`)
  }
  for (const path of generated) t.ok(ours.has(path), `added: ${path}`)
  t.equal(ours.get('data/suid')?.mode, '-rwsr-xr-x', 'setuid kept')
  t.equal(ours.get('data/user')?.owner, '1000/1000', 'non-root owner kept')
  t.equal(ours.get('data/link')?.link, '-> /data/target', 'symlink kept')
  t.ok(ours.has(`${longDir}/file-with-a-long-name.txt`), 'path over 100 characters kept')
  t.ok(ours.has('data/héllo wörld ✓.txt'), 'non-ASCII name kept')
  t.ok(ours.has('data/empty'), 'empty directory kept')
  t.ok(ours.has('.singularity.d/env/50-custom.sh'), "the image's own env fragment is kept")

  // Unpack and run as root in a chroot: the same output as docker run.
  const root = join(work, 'root')
  sh('unsquashfs', ['-q', '-n', '-d', root, part])
  t.equal(statSync(join(root, 'data/target')).ino, statSync(join(root, 'data/hard')).ino, 'hard link kept')
  t.equal(readFileSync(join(root, 'etc/hosts'), 'utf8'), exported.includes('image-host') ? '10.0.0.1 image-host\n' : readFileSync(join(root, 'etc/hosts'), 'utf8'))
  const chroot = (args: string[], env: Record<string, string> = {}) =>
    sh('/usr/bin/env', ['-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), '/usr/sbin/chroot', root, ...args])
  t.equal(chroot(['/.singularity.d/actions/run']), sh('docker', ['run', '--rm', image]), 'run without arguments = docker run')
  t.equal(chroot(['/.singularity.d/actions/run', 'x', 'y z']), sh('docker', ['run', '--rm', image, 'x', 'y z']), 'run with arguments = docker run')
  t.equal(chroot(['/.singularity.d/actions/exec', '/bin/echo', 'hi']), sh('docker', ['run', '--rm', '--entrypoint', '/bin/echo', image, 'hi']), 'exec = docker run --entrypoint')

  const show = ['/.singularity.d/actions/exec', '/bin/sh', '-c', 'echo "$PATH|$FOO|$LD_LIBRARY_PATH|$CUSTOM"']
  const imagePath = '/usr/local/bin:/usr/bin:/bin'
  t.equal(chroot(show), `${imagePath}|bar|/opt/lib:/.singularity.d/libs|1\n`, 'image ENV applied')
  t.equal(chroot(show, { FOO: 'mine' }).split('|')[1], 'mine', 'a non-PATH variable already set is kept')
  t.equal(chroot(show, { PATH: '/host/bin' }).split('|')[0], imagePath, 'PATH takes the image value')
  t.equal(chroot(show, { PATH_PREPEND: '/pre' }).split('|')[0], `/pre:${imagePath}`, 'PATH_PREPEND')
  t.equal(chroot(show, { PATH_APPEND: '/app' }).split('|')[0], `${imagePath}:/app`, 'PATH_APPEND')
  t.equal(chroot(show, { PATH_INIT: '/init', PATH_PREPEND: '/pre', PATH_APPEND: '/app' }).split('|')[0], '/pre:/init:/app', 'PATH_INIT with PREPEND and APPEND')
  t.equal(chroot(show, { LD_LIBRARY_PATH_INIT: '/x' }).split('|')[2], '/x:/.singularity.d/libs', 'any *PATH variable follows the rules')

  t.match(sh('unsquashfs', ['-s', part]), /Compression gzip/, 'gzip by default')

  // Up to date: skipped; force=1 redoes it.
  const again = await runCli(['-r', repo.dir, 'create_singularity', `${ns}/layout:*`], { env: repo.env })
  t.equal(again.code, 0)
  t.match(again.stderr, /up to date/)
  const before = readFileSync(`${sif}.md5`, 'utf8')
  const forced = await runCli(['-r', repo.dir, 'create_singularity', `${ns}/layout:*`, 'force=1', 'compressor=zstd'], { env: repo.env })
  t.equal(forced.code, 0, forced.stderr)
  t.not(readFileSync(`${sif}.md5`, 'utf8'), before, 'force=1 converts again')
  writeFileSync(part, execFileSync('siftool', ['dump', '3', sif], { maxBuffer: 1 << 28 }))
  t.match(sh('unsquashfs', ['-s', part]), /Compression zstd/, 'compressor= option')
})

t.test('a filter matching nothing', async (t) => {
  const repo = repository()
  const result = await runCli(['-r', repo.dir, 'create_singularity', `${ns}/nothing-*`], { env: repo.env })
  t.equal(result.code, 1)
  t.match(result.stderr, /No image match filter "casa-test-sif\/nothing-\*"/)
})

t.test('interrupted half way and full disk: no file left, non-zero exit', async (t) => {
  build(bigImage, ['RUN dd if=/dev/urandom of=/big bs=1M count=160 2>/dev/null'])
  const containersBefore = sh('docker', ['ps', '-aq', '--filter', `ancestor=${bigImage}`]).trim()
  t.equal(containersBefore, '')

  const repo = repository()
  const tmp = tempDir(t, 'casa-sif-tmp-')
  const killed = await runCli(['-r', repo.dir, 'create_singularity', `${ns}/big:*`], { env: { ...repo.env, TMPDIR: tmp }, kill: { signal: 'SIGTERM', afterMs: 4500 } })
  t.not(killed.code, 0, 'non-zero exit when interrupted')
  t.match(killed.stderr, /interrupted/)
  t.same(readdirSync(repo.dir).filter((f) => f !== '.home' && f !== 'casa.config.ts'), [], 'no file left in the output directory')
  t.same(readdirSync(tmp), [], 'no file left in the temporary directory')
  t.equal(sh('docker', ['ps', '-aq', '--filter', `ancestor=${bigImage}`]).trim(), '', 'the temporary container is removed')

  // A small tmpfs: both the output and the temporary directory are full.
  const mountPoint = tempDir(t, 'casa-sif-full-')
  sh('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mountPoint])
  t.teardown(() => {
    spawnSync('umount', [mountPoint])
  })
  const out = join(mountPoint, 'repo')
  mkdirSync(out)
  const full = await runCli(['-r', out, 'create_singularity', `${ns}/big:*`], { env: { ...repo.env, TMPDIR: mountPoint } })
  t.equal(full.code, 1, full.stderr)
  t.match(full.stderr, new RegExp(`no space left on device in ${mountPoint}`))
  t.equal(full.stderr.trim().split('\n').filter((l) => l.startsWith('error:')).length, 1, 'one error line')
  t.same(readdirSync(out), [], 'no file left in the output directory')
  t.same(readdirSync(mountPoint), ['repo'], 'no file left in the temporary directory')
  t.equal(sh('docker', ['ps', '-aq', '--filter', `ancestor=${bigImage}`]).trim(), '', 'the temporary container is removed')
})
