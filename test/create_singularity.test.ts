// create_singularity end to end: real docker images converted by the real command, read by
// siftool, unpacked with sqfs2tar/unsquashfs, run with chroot (we are root) against docker run.
import t, { type Test } from 'tap'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { binPath, runCli } from './helpers/cli.js'
import { ensureBusyboxImage } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'
import { initLayerPaths } from '../lib/singularity/imageLayers.js'

// Tags unique to this run: the same test file may run at once in another clone.
const ns = 'casa-test-sif'
const run = `r${process.pid}`
const image = `${ns}/layout:${run}`
const bigImage = `${ns}/big:${run}`
const smallImages = [`${ns}/small:${run}a`, `${ns}/small:${run}b`]
const sh = (cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; input?: string } = {}) =>
  execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, env: options.env ?? process.env, input: options.input, stdio: ['pipe', 'pipe', 'pipe'] })

const longDir = `deep/${'d'.repeat(60)}/${'e'.repeat(60)}`
const base = ensureBusyboxImage()

function build(tag: string, lines: string[], files: Record<string, string> = {}): void {
  const context = tempDir(t, 'casa-sif-ctx-')
  writeFileSync(join(context, 'Dockerfile'), [`FROM ${base}`, ...lines, ''].join('\n'))
  for (const [name, content] of Object.entries(files)) writeFileSync(join(context, name), content)
  sh('docker', ['build', '--network=host', '-q', '-t', tag, context])
}

build(image, [
  `RUN mkdir -p /data/empty /${longDir} /.singularity.d/env && ln -s /data/target /data/link && echo content > /data/target && ln /data/target /data/hard` +
    ` && echo x > /data/suid && chmod 4755 /data/suid && echo u > /data/user && chown 1000:1000 /data/user` +
    ` && echo long > /${longDir}/file-with-a-long-name.txt && echo é > '/data/héllo wörld ✓.txt'` +
    ` && echo 'echo image runscript' > /.singularity.d/runscript && echo 'export CUSTOM=1' > /.singularity.d/env/50-custom.sh`,
  // A non-empty /etc/hosts in the image layer (RUN cannot write it: it is a bind mount then).
  'COPY hosts /etc/hosts',
  'ENV FOO=bar PATH=/usr/local/bin:/usr/bin:/bin LD_LIBRARY_PATH=/opt/lib',
  'LABEL org.example.purpose="sif test"',
  'ENTRYPOINT ["/bin/sh", "-c", "echo args: \\"$@\\"; echo FOO=$FOO", "entry"]',
  'CMD ["c1", "c 2"]',
], { hosts: '10.0.0.1 image-host\n' })
t.teardown(() => {
  spawnSync('docker', ['image', 'rm', image, bigImage, ...smallImages])
})

function repository(config = '{ singularity: { compressor: "gzip" } }'): { dir: string; env: Record<string, string> } {
  const dir = tempDir(t, 'casa-sif-repo-')
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), `export default ${config}\n`)
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
  '.singularity.d/env/01-base.sh',
  '.singularity.d/env/95-apps.sh',
  '.singularity.d/env/99-zz-casa-env.sh',
  '.singularity.d/startscript',
  '.singularity.d/Singularity',
  'apptainer',
  'etc/hosts',
  'etc/resolv.conf',
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
  const result = await runCli(['-r', repo.dir, 'create_singularity', `image_names=${image}`], { env: repo.env })
  t.equal(result.code, 0, result.stderr)
  const sif = join(repo.dir, `casa-test-sif_layout_${run}.sif`)
  t.ok(existsSync(sif), 'the .sif file is written')
  t.equal(readFileSync(`${sif}.dockerid`, 'utf8').trim(), sh('docker', ['image', 'inspect', '-f', '{{.Id}}', image]).trim())
  t.equal(readFileSync(`${sif}.md5`, 'utf8').trim(), sh('md5sum', [sif]).split(' ')[0])
  t.same(readdirSync(repo.dir).filter((f) => f.startsWith('.casa') || f.includes('.tmp-')), [], 'no temporary file left')

  const header = sh('siftool', ['header', sif])
  t.match(header, /Primary Architecture:\s+amd64/)
  t.match(header, /Descriptors Total:\s+48/)
  const list = sh('siftool', ['list', sif])
  t.match(list, /Def\.FILE/)
  t.match(list, /2 .*JSON\.Generic\n.*3 .*JSON\.Generic\n.*4 .*FS \(Squashfs\/\*System\/amd64\)/, "Apptainer's objects: Def.FILE, two JSON.Generic, the partition")
  const info = sh('siftool', ['info', '4', sif])
  t.match(info, /Squashfs/)
  t.match(sh('siftool', ['info', '2', sif]), /Name:\s+inspect-metadata\.json/)
  t.match(sh('siftool', ['info', '3', sif]), /Name:\s+oci-config\.json/)
  t.match(sh('siftool', ['dump', '1', sif]), new RegExp(`from: ${image}`))
  const metadata = JSON.parse(sh('siftool', ['dump', '2', sif]))
  t.equal(metadata.type, 'container')
  t.equal(metadata.data.attributes.labels['org.example.purpose'], 'sif test')
  t.match(metadata.data.attributes.runscript, /^eval "set \$\{SINGULARITY_OCI_RUN\}"$/m)
  t.same(JSON.parse(sh('siftool', ['dump', '3', sif])).Cmd, ['c1', 'c 2'], "oci-config.json: the image's config")
  t.equal(statSync(sif).mode & 0o777, 0o755, 'executable, as Apptainer writes it')

  const work = tempDir(t, 'casa-sif-unpack-')
  const part = join(work, 'part.sqfs')
  writeFileSync(part, execFileSync('siftool', ['dump', '4', sif], { maxBuffer: 1 << 28 }))
  const ours = listing(execFileSync('sqfs2tar', [part], { maxBuffer: 1 << 28 }))

  // The docker export of the same image, as docker gives it.
  const container = sh('docker', ['create', '--entrypoint', '/x', image]).trim()
  const exported = execFileSync('docker', ['export', container], { maxBuffer: 1 << 28 })
  sh('docker', ['rm', '-f', container])
  const theirs = listing(exported)

  // docker's init layer: the image's own entries there are checked against its layers in sif_parity.test.ts.
  const initLayer = new Set<string>(initLayerPaths)
  for (const [path, entry] of theirs) {
    if (generated.has(path) || initLayer.has(path)) continue
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
  for (const path of ['.dockerenv', 'dev/console', 'dev/pts', 'dev/shm', 'etc/hostname', 'etc/mtab']) t.notOk(ours.has(path), `docker's init layer left out: ${path} (not in the image)`)
  }
  for (const path of generated) t.ok(ours.has(path), `added: ${path}`)
  t.equal(ours.get('data/suid')?.mode, '-rwsr-xr-x', 'setuid kept')
  t.equal(ours.get('data/user')?.owner, '1000/1000', 'non-root owner kept')
  t.equal(ours.get('data/link')?.link, '-> /data/target', 'symlink kept')
  t.ok(ours.has(`${longDir}/file-with-a-long-name.txt`), 'path over 100 characters kept')
  t.ok(ours.has('data/héllo wörld ✓.txt'), 'non-ASCII name kept')
  t.ok(ours.has('data/empty'), 'empty directory kept')
  t.ok(ours.has('.singularity.d/env/50-custom.sh'), "the image's own env fragment is kept")
  // /etc/hosts and /etc/resolv.conf empty with mode 0644 whatever the image holds, as
  // Apptainer's build writes them (the runtime binds the host's over them).
  for (const path of ['etc/hosts', 'etc/resolv.conf']) t.same(ours.get(path), { mode: '-rw-r--r--', owner: '0/0', size: '0', link: '' }, `${path} empty, 0644`)

  // Unpack and run as root in a chroot: the same output as docker run.
  const root = join(work, 'root')
  sh('unsquashfs', ['-q', '-n', '-d', root, part])
  t.notMatch(readFileSync(join(root, '.singularity.d/runscript'), 'utf8'), /image runscript/, "the image's runscript is replaced by ours")
  t.equal(statSync(join(root, 'data/target')).ino, statSync(join(root, 'data/hard')).ino, 'hard link kept')
  t.equal(readFileSync(join(root, 'etc/hosts'), 'utf8'), '', '/etc/hosts empty')
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
  const mtime = statSync(sif).mtimeMs
  const again = await runCli(['-r', repo.dir, 'create_singularity', image], { env: repo.env })
  t.equal(again.code, 0)
  t.match(again.stderr, new RegExp(`${image}: .* is up to date`))
  t.equal(statSync(sif).mtimeMs, mtime, 'an up-to-date image is not converted again')
  const before = readFileSync(`${sif}.md5`, 'utf8')
  const forced = await runCli(['-r', repo.dir, 'create_singularity', image, 'force=1', 'compressor=zstd'], { env: repo.env })
  t.equal(forced.code, 0, forced.stderr)
  t.not(readFileSync(`${sif}.md5`, 'utf8'), before, 'force=1 converts again')
  writeFileSync(part, execFileSync('siftool', ['dump', '4', sif], { maxBuffer: 1 << 28 }))
  t.match(sh('unsquashfs', ['-s', part]), /Compression zstd/, 'compressor= option')
})

t.test('through the engine API by default, through the docker CLI in a docker context: the same image content', async (t) => {
  const partitionOf = (sif: string) => {
    const part = join(tempDir(t, 'casa-sif-part-'), 'part.sqfs')
    writeFileSync(part, execFileSync('siftool', ['dump', '4', sif], { maxBuffer: 1 << 28 }))
    return listing(execFileSync('sqfs2tar', [part], { maxBuffer: 1 << 28 }))
  }
  const viaApi = repository()
  const api = await runCli(['-r', viaApi.dir, '-v', 'create_singularity', image], { env: viaApi.env })
  t.equal(api.code, 0, api.stderr)
  t.match(api.stderr, /\$ docker export [0-9a-f]{64}\n\s+\(through the engine API at unix:\/\/\/var\/run\/docker\.sock\)/, '-v says what would have run, and how it was done')

  const viaCli = repository()
  const dockerConfig = tempDir(t, 'casa-sif-docker-config-')
  execFileSync('docker', ['context', 'create', 'casa-test', '--docker', 'host=unix:///var/run/docker.sock'], { env: { ...process.env, DOCKER_CONFIG: dockerConfig }, stdio: 'ignore' })
  const cli = await runCli(['-r', viaCli.dir, '-v', 'create_singularity', image], { env: { ...viaCli.env, DOCKER_CONFIG: dockerConfig, DOCKER_CONTEXT: 'casa-test' } })
  t.equal(cli.code, 0, cli.stderr)
  t.match(cli.stderr, /\$ docker export [0-9a-f]{64}\n/)
  t.notMatch(cli.stderr, /engine API/, 'a context: every docker call through the CLI')

  const sif = `casa-test-sif_layout_${run}.sif`
  for (const dir of [viaApi.dir, viaCli.dir]) t.equal(readFileSync(join(dir, `${sif}.md5`), 'utf8').trim(), sh('md5sum', [join(dir, sif)]).split(' ')[0])
  t.same(partitionOf(join(viaCli.dir, sif)), partitionOf(join(viaApi.dir, sif)), 'the same entries, modes, owners, sizes and links')
  t.equal(readFileSync(join(viaCli.dir, `${sif}.dockerid`), 'utf8'), readFileSync(join(viaApi.dir, `${sif}.dockerid`), 'utf8'))
})

t.test('a filter matching nothing', async (t) => {
  const repo = repository()
  const result = await runCli(['-r', repo.dir, 'create_singularity', `${ns}/nothing-*`], { env: repo.env })
  t.equal(result.code, 1)
  t.match(result.stderr, /^error: No image match filter "casa-test-sif\/nothing-\*" among the local docker images \(tags <none> and latest left out\)\n$/)
})

t.test('jobs=2 converts two images at once; singularity.extension .simg keeps the original names', async (t) => {
  for (const tag of smallImages) sh('docker', ['tag', base, tag])
  const repo = repository("{ jobs: 2, singularity: { extension: '.simg', compressor: 'lz4' } }")
  const dry = await runCli(['-r', repo.dir, 'create_singularity', `${ns}/small:${run}*`, '--dry-run'], { env: repo.env })
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, new RegExp(`casa-test-sif_small_${run}a\\.simg\\s+convert \\(lz4\\)`), 'the compressor config key')
  t.same(readdirSync(repo.dir).filter((f) => f.endsWith('.simg')), [], '--dry-run converts nothing')

  const result = await runCli(['-r', repo.dir, 'create_singularity', `${ns}/small:${run}*`], { env: repo.env })
  t.equal(result.code, 0, result.stderr)
  for (const tag of smallImages) {
    const file = join(repo.dir, `${tag.replace(/[/:]/g, '_')}.simg`)
    t.ok(existsSync(file) && existsSync(`${file}.md5`) && existsSync(`${file}.dockerid`), `${file} with .md5 and .dockerid`)
    t.match(sh('siftool', ['list', file]), /FS \(Squashfs\/\*System\/amd64\)/)
    const part = join(repo.dir, 'part.sqfs')
    writeFileSync(part, execFileSync('siftool', ['dump', '4', file], { maxBuffer: 1 << 30 }))
    t.match(sh('unsquashfs', ['-s', part]), /Compression lz4/, 'compressor from the config')
  }
  // Plain progress lines: both conversions start before the first one ends.
  const lines = result.stderr.split('\n')
  const starts = lines.map((l, i) => (/ \.\.\.$/.test(l) ? i : -1)).filter((i) => i >= 0)
  const firstDone = lines.findIndex((l) => l.includes(' ✔ '))
  t.equal(starts.length, 2, 'two conversions started')
  t.ok(firstDone > starts[1]!, 'the second started before the first finished')
  t.equal(lines.filter((l) => l.includes(' ✔ ')).length, 2, 'both finished')
})

t.test('no squashfs builder reading tar streams: one line naming the package, nothing left', async (t) => {
  // A PATH holding every program of this machine except the two builders.
  const bin = tempDir(t, 'casa-sif-path-')
  for (const dir of ['/usr/local/bin', '/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    let names: string[] = []
    try {
      names = readdirSync(dir)
    } catch {
      continue
    }
    for (const name of names) if (name !== 'tar2sqfs' && name !== 'mksquashfs' && !existsSync(join(bin, name))) symlinkSync(join(dir, name), join(bin, name))
  }
  const repo = repository()
  const result = await runCli(['-r', repo.dir, 'create_singularity', image, 'force=1'], { env: { ...repo.env, PATH: bin } })
  t.equal(result.code, 1, result.stderr)
  t.match(result.stderr, /error: no squashfs builder reading tar streams: install the squashfs-tools-ng package \(tar2sqfs\), or squashfs-tools 4\.6 or later/)
  t.notMatch(result.stderr, /\n\s+at /, 'no stack trace')
  t.same(readdirSync(repo.dir).filter((f) => f !== '.home' && f !== 'casa.config.ts'), [], 'nothing left in the output directory')
  t.equal(sh('docker', ['ps', '-aq', '--filter', `ancestor=${image}`]).trim(), '', 'no container left')
})

t.test('interrupted half way and full disk: no file left, non-zero exit', async (t) => {
  build(bigImage, ['RUN dd if=/dev/urandom of=/big bs=1M count=160 2>/dev/null'])
  const containers = () => sh('docker', ['ps', '-aq', '--filter', `ancestor=${bigImage}`]).trim()
  t.equal(containers(), '')

  // Killed once the SIF being written has taken 8 MB in the output directory (ext4 here:
  // the squashfs is written in place), so the kill lands in the middle of the conversion.
  const repo = repository()
  const tmp = tempDir(t, 'casa-sif-tmp-')
  const child = spawn(process.execPath, [binPath, '-r', repo.dir, 'create_singularity', bigImage], { env: { ...process.env, ...repo.env, TMPDIR: tmp, NO_COLOR: '1', CI: 'true' }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (c) => (stderr += c))
  const exited = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))))
  let midway = false
  for (let i = 0; i < 600 && child.exitCode === null; i++) {
    const partial = readdirSync(repo.dir).filter((f) => f.includes('.tmp-'))
    if (partial.some((f) => statSync(join(repo.dir, f), { throwIfNoEntry: false })?.size! > 8e6)) {
      midway = true
      child.kill('SIGTERM')
      break
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const code = await exited
  t.ok(midway, 'killed while the SIF was being written')
  t.not(code, 0, 'non-zero exit when interrupted')
  t.match(stderr, /interrupted/)
  t.same(readdirSync(repo.dir).filter((f) => f !== '.home' && f !== 'casa.config.ts'), [], 'no file left in the output directory')
  t.same(readdirSync(tmp), [], 'no file left in the temporary directory')
  t.equal(containers(), '', 'the temporary container is removed')

  // A small tmpfs: both the output and the temporary directory are full (copy mode:
  // tmpfs cannot insert a range, so the squashfs goes to TMPDIR).
  const mountPoint = tempDir(t, 'casa-sif-full-')
  sh('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', mountPoint])
  t.teardown(() => {
    spawnSync('umount', [mountPoint])
  })
  const out = join(mountPoint, 'repo')
  mkdirSync(out)
  const full = await runCli(['-r', out, 'create_singularity', bigImage], { env: { ...repo.env, TMPDIR: mountPoint } })
  t.equal(full.code, 1, full.stderr)
  t.match(full.stderr, new RegExp(`no space left on device in ${mountPoint}`))
  t.equal(full.stderr.trim().split('\n').filter((l) => l.startsWith('error:')).length, 1, 'one error line')
  t.notMatch(full.stderr, /\n\s+at /, 'no stack trace')
  t.same(readdirSync(out), [], 'no file left in the output directory')
  t.same(readdirSync(mountPoint), ['repo'], 'no file left in the temporary directory')
  t.equal(containers(), '', 'the temporary container is removed')

  // The output on a big tmpfs, APPTAINER_TMPDIR on a small one (TMPDIR elsewhere): the
  // squashfs goes to APPTAINER_TMPDIR, which fills up and is the directory named.
  const bigMount = tempDir(t, 'casa-sif-roomy-')
  const smallMount = tempDir(t, 'casa-sif-small-')
  sh('mount', ['-t', 'tmpfs', '-o', 'size=400m', 'tmpfs', bigMount])
  t.teardown(() => {
    spawnSync('umount', [bigMount])
  })
  sh('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', smallMount])
  t.teardown(() => {
    spawnSync('umount', [smallMount])
  })
  const other = tempDir(t, 'casa-sif-other-tmp-')
  const tempFull = await runCli(['-r', bigMount, 'create_singularity', bigImage], { env: { ...repo.env, TMPDIR: other, APPTAINER_TMPDIR: smallMount } })
  t.equal(tempFull.code, 1, tempFull.stderr)
  t.match(tempFull.stderr, new RegExp(`no space left on device in ${smallMount}`), 'APPTAINER_TMPDIR is where the squashfs went')
  t.same(readdirSync(bigMount), [], 'no file left in the output directory')
  t.same(readdirSync(smallMount), [], 'no file left in APPTAINER_TMPDIR')
  t.same(readdirSync(other), [], 'TMPDIR not used when APPTAINER_TMPDIR is set')

  // A small ext4 output (in-place mode: the squashfs is written into the output file).
  const imageFile = join(tempDir(t, 'casa-sif-ext4-'), 'fs.img')
  const ext4 = tempDir(t, 'casa-sif-ext4-mnt-')
  sh('truncate', ['-s', '40M', imageFile])
  sh('mkfs.ext4', ['-q', '-F', imageFile])
  sh('mount', ['-o', 'loop', imageFile, ext4])
  t.teardown(() => {
    spawnSync('umount', [ext4])
  })
  const extOut = join(ext4, 'repo')
  mkdirSync(extOut)
  const extTmp = tempDir(t, 'casa-sif-ext4-tmp-')
  const extFull = await runCli(['-r', extOut, 'create_singularity', bigImage], { env: { ...repo.env, TMPDIR: extTmp } })
  t.equal(extFull.code, 1, extFull.stderr)
  t.match(extFull.stderr, new RegExp(`no space left on device in ${extOut}`))
  t.equal(extFull.stderr.trim().split('\n').filter((l) => l.startsWith('error:')).length, 1, 'one error line')
  t.same(readdirSync(extOut), [], 'no file left in the ext4 output directory')
  t.same(readdirSync(extTmp), [], 'nothing in the temporary directory in place mode')
  t.equal(containers(), '', 'the temporary container is removed')
})

t.test('an output or temporary directory that cannot be written: one line naming it, before the export', async (t) => {
  const tag = `${ns}/small:${run}ro`
  sh('docker', ['tag', base, tag])
  t.teardown(() => void spawnSync('docker', ['image', 'rm', tag]))
  const repo = repository()
  const ro = tempDir(t, 'casa-sif-ro-')
  sh('mount', ['-t', 'tmpfs', '-o', 'ro,size=1m', 'tmpfs', ro])
  t.teardown(() => void spawnSync('umount', [ro]))
  // The output on tmpfs: no insert-range there, so the squashfs goes to TMPDIR.
  const out = tempDir(t, 'casa-sif-out-')
  sh('mount', ['-t', 'tmpfs', '-o', 'size=100m', 'tmpfs', out])
  t.teardown(() => void spawnSync('umount', [out]))
  const tmp = tempDir(t, 'casa-sif-tmp-')
  const oneLine = (t: Test, r: { code: number; stderr: string }, pattern: RegExp) => {
    t.not(r.code, 0)
    t.match(r.stderr, pattern)
    t.notMatch(r.stderr, /internal error|\n\s+at /, 'no stack trace')
    t.notMatch(r.stderr, /exported/, 'stopped before the export')
    t.same(readdirSync(out), [], 'nothing left in the output directory')
    t.same(readdirSync(tmp), [], 'nothing left in TMPDIR')
  }
  const env = { ...repo.env, APPTAINER_TMPDIR: '', SINGULARITY_TMPDIR: '' }
  oneLine(t, await runCli(['-r', ro, 'create_singularity', tag], { env: { ...env, TMPDIR: tmp } }), new RegExp(`cannot write in ${ro}: it is on a read-only file system\n`))
  oneLine(t, await runCli(['-r', out, 'create_singularity', tag], { env: { ...env, TMPDIR: '/nonexistent' } }), /cannot write in \/nonexistent: no such directory \(set TMPDIR or APPTAINER_TMPDIR/)
  oneLine(t, await runCli(['-r', out, 'create_singularity', tag], { env: { ...env, TMPDIR: ro } }), new RegExp(`cannot write in ${ro}: it is on a read-only file system \\(set TMPDIR`))
})

t.test('a removed .sif whose .md5 and .dockerid remain is converted again', async (t) => {
  const tag = `${ns}/small:${run}rm`
  sh('docker', ['tag', base, tag])
  t.teardown(() => void spawnSync('docker', ['image', 'rm', tag]))
  const repo = repository("{ singularity: { compressor: 'lz4' } }")
  const sif = join(repo.dir, `${tag.replace(/[/:]/g, '_')}.sif`)
  const first = await runCli(['-r', repo.dir, 'create_singularity', tag], { env: repo.env })
  t.equal(first.code, 0, first.stderr)
  rmSync(sif)
  const again = await runCli(['-r', repo.dir, 'create_singularity', tag], { env: repo.env })
  t.equal(again.code, 0, again.stderr)
  t.notMatch(again.stderr + again.stdout, /up to date/)
  t.ok(existsSync(sif), 'the .sif is back')
})

t.test('a directory where the .sif goes: one line naming it, before the export, nothing left', async (t) => {
  const tag = `${ns}/small:${run}dir`
  sh('docker', ['tag', base, tag])
  t.teardown(() => void spawnSync('docker', ['image', 'rm', tag]))
  const repo = repository()
  const sif = join(repo.dir, `${tag.replace(/[/:]/g, '_')}.sif`)
  mkdirSync(sif)
  const before = readdirSync(repo.dir).sort()
  const made = await runCli(['-r', repo.dir, 'create_singularity', tag], { env: repo.env })
  t.equal(made.code, 1, made.stderr)
  t.match(made.stderr, `error: ${sif} is a directory, not a SIF file: remove it or move it away\n`)
  t.notMatch(made.stderr, /internal error|\n\s+at /, 'no stack trace')
  t.notMatch(made.stderr, /writing the SIF file/, 'stopped before the conversion')
  t.same(readdirSync(repo.dir).sort(), before, 'nothing left beside it')
  t.same(readdirSync(sif), [], 'the directory untouched')
})

t.test('an image with a VOLUME: the temporary container goes with its anonymous volume', async (t) => {
  const tag = `${ns}/volume:${run}`
  build(tag, ['VOLUME /data'])
  t.teardown(() => void spawnSync('docker', ['image', 'rm', tag]))
  const volumes = () => sh('docker', ['volume', 'ls', '-q']).split('\n').filter(Boolean).sort()
  const before = volumes()
  const repo = repository("{ singularity: { compressor: 'lz4' } }")
  const made = await runCli(['-r', repo.dir, 'create_singularity', tag], { env: repo.env })
  t.equal(made.code, 0, made.stderr)
  // Other test files may make volumes meanwhile: none of those made here may remain.
  const left = volumes().filter((v) => !before.includes(v))
  const ours = left.filter((v) => sh('docker', ['volume', 'inspect', '-f', '{{.CreatedAt}}', v]) && sh('docker', ['ps', '-aq', '--filter', `volume=${v}`]).trim() === '')
  t.same(ours, [], 'docker volume ls unchanged by the conversion')
  t.equal(sh('docker', ['ps', '-aq', '--filter', `ancestor=${tag}`]).trim(), '', 'no container left')
})
