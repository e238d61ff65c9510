// Apptainer parity of the SIF files, against judges that are not ours (nothing of Apptainer
// can be installed here):
//   - the image's filesystem: `skopeo copy docker-daemon:` + `umoci raw unpack` (the OCI
//     unpacking Apptainer's build follows) must be in the SIF's partition entry for entry,
//     and the SIF may add only the entries Apptainer's build adds;
//   - what Apptainer's runtime does at start, by a harness written from its action script
//     (test/helpers/apptainerHarness.ts), compared with `docker run`;
//   - siftool (the SIF library's CLI) for the objects.
// Images: a Debian bookworm made here with mmdebstrap plus apt packages, an image with no
// shell (busybox as a static binary at /busybox, FROM scratch), a busybox image with tricky
// ENV, ENTRYPOINT and CMD. Reproducibility: the same image twice gives the same bytes.
import t, { type Test } from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { ensureBusyboxImage } from './helpers/services.js'
import { debianEnv, ensureDebianImages } from './helpers/debianImage.js'
import { installHarness, unpackPartition } from './helpers/apptainerHarness.js'
import { tempDir } from './helpers/tmp.js'
import { imageEntriesAt, initLayerPaths } from '../lib/singularity/imageLayers.js'
import { entriesFromLayerDirectories } from '../lib/singularity/layerDirs.js'

const ns = 'casa-test-parity'
const run = `r${process.pid}`
const sh = (cmd: string, args: string[], options: { input?: string } = {}) => execFileSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 28, input: options.input, stdio: ['pipe', 'pipe', 'pipe'] })
const dockerRun = (args: string[]) => spawnSync('docker', ['run', '--rm', '--network=none', ...args], { encoding: 'utf8' })

const busybox = ensureBusyboxImage()
const { apt: debian } = ensureDebianImages()
const noShell = `${ns}/noshell:${run}`
const tricky = `${ns}/tricky:${run}`

function build(tag: string, dockerfile: string[], files: Record<string, string> = {}, extra: string[] = []): void {
  const context = tempDir(t, 'casa-parity-ctx-')
  writeFileSync(join(context, 'Dockerfile'), [...dockerfile, ''].join('\n'))
  for (const [name, content] of Object.entries(files)) writeFileSync(join(context, name), content)
  if (dockerfile.some((l) => l.includes('COPY busybox'))) copyFileSync('/bin/busybox', join(context, 'busybox'))
  sh('docker', ['build', '--network=host', '-q', ...extra, '-t', tag, context])
}
const trickyDockerfile = [
  `FROM ${busybox}`,
  'ENV SPACES="a  b" DOLLAR="\\$HOME \\${X}" QUOTES="it\'s \\"q\\"" BACKSLASH="a\\\\b\\\\" LD_LIBRARY_PATH=/opt/lib',
  'ENTRYPOINT ["/bin/sh", "-c", "printf \'[%s]\' \\"$@\\"; echo; echo \\"$SPACES|$DOLLAR|$QUOTES|$BACKSLASH\\"", "entry"]',
  'CMD ["c1", "c 2", "$HOME"]',
]
build(noShell, ['FROM scratch', 'COPY busybox /busybox', 'ENTRYPOINT ["/busybox", "echo"]', 'CMD ["no shell", "here"]'])
build(tricky, trickyDockerfile)
t.teardown(() => void spawnSync('docker', ['image', 'rm', noShell, tricky]))

function repository(t: Test): { dir: string; env: Record<string, string> } {
  const dir = tempDir(t, 'casa-parity-repo-')
  // zstd: unsquashfs here cannot read tar2sqfs's lz4 (its id table), whatever wrote the SIF
  writeFileSync(join(dir, 'casa.config.ts'), "export default { singularity: { compressor: 'zstd' } }\n")
  return { dir, env: { HOME: dir, CASA_CONFIG: join(dir, 'casa.config.ts') } }
}

async function convert(t: Test, image: string, env: Record<string, string> = {}, dir?: string): Promise<string> {
  const repo = repository(t)
  const out = dir ?? repo.dir
  const result = await runCli(['-r', out, 'create_singularity', image], { env: { ...repo.env, ...env } })
  t.equal(result.code, 0, result.stderr)
  return join(out, `${image.replace(/[/:]/g, '_')}.sif`)
}

interface Node {
  type: string
  mode: number
  uid: number
  gid: number
  size: number
  rdev: number
  link: string
  /** The other paths of a hard-link group, sorted. */
  hard: string
}

/** Every entry under `root` (lstat: type, mode, owner, size, device numbers, link target, hard links). */
function tree(root: string, skip: (path: string) => boolean = () => false): Map<string, Node> {
  const nodes = new Map<string, Node>()
  const inodes = new Map<number, string[]>()
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const path = rel ? `${rel}/${name}` : name
      if (skip(path)) continue
      const st = lstatSync(join(root, path))
      const type = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'link' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : st.isSocket() ? 'socket' : 'file'
      nodes.set(path, { type, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, size: type === 'file' ? st.size : 0, rdev: st.rdev, link: type === 'link' ? readlinkSync(join(root, path)) : '', hard: '' })
      if (type === 'file' && st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), path])
      if (type === 'dir') walk(path)
    }
  }
  walk('')
  for (const group of inodes.values()) for (const path of group) nodes.get(path)!.hard = group.filter((p) => p !== path).sort().join(',')
  return nodes
}

/** The image's filesystem as OCI tools unpack it: skopeo from the engine, then umoci. */
function referenceRootfs(t: Test, image: string): string {
  const work = tempDir(t, 'casa-parity-oci-')
  sh('skopeo', ['copy', '--quiet', `docker-daemon:${image}`, `oci:${join(work, 'oci')}:ref`])
  sh('umoci', ['raw', 'unpack', '--image', `${join(work, 'oci')}:ref`, join(work, 'rootfs')])
  return join(work, 'rootfs')
}

/** What Apptainer's build adds to a docker image's root (base_environment.go, conveyorPacker_oci.go), as we write it. */
const added = new Set([
  '.singularity.d',
  '.singularity.d/actions',
  '.singularity.d/actions/exec',
  '.singularity.d/actions/run',
  '.singularity.d/actions/shell',
  '.singularity.d/actions/start',
  '.singularity.d/actions/test',
  '.singularity.d/env',
  '.singularity.d/env/01-base.sh',
  '.singularity.d/env/10-docker2singularity.sh',
  '.singularity.d/env/90-environment.sh',
  '.singularity.d/env/95-apps.sh',
  '.singularity.d/env/99-base.sh',
  '.singularity.d/env/99-runtimevars.sh',
  '.singularity.d/libs',
  '.singularity.d/runscript',
  '.singularity.d/startscript',
  '.singularity.d/Singularity',
  '.singularity.d/labels.json',
  'apptainer',
  '.run',
  '.exec',
  '.shell',
  '.test',
  'environment',
  // the mount points, when the image has none
  'dev',
  'proc',
  'sys',
  'tmp',
  'var',
  'var/tmp',
  'home',
  'root',
  'etc',
  // ours: Singularity 2/3's name for the runscript link, and the casa rules under Apptainer
  'singularity',
  '.singularity.d/env/99-zz-casa-env.sh',
])
/** Entries Apptainer's build rewrites whatever the image holds: empty, 0644. */
const emptied = new Set(['etc/hosts', 'etc/resolv.conf'])

for (const [label, image] of [
  ['debian bookworm with apt packages', debian],
  ['an image with no shell', noShell],
  ['busybox with tricky ENV, ENTRYPOINT and CMD', tricky],
] as const) {
  t.test(`${label}: the partition holds the image's layers as OCI tools unpack them, plus only what Apptainer adds`, async (t) => {
    // Volumes left by the conversion are dangling ones it added. Other test files run beside
    // this one on the same engine and make and remove volumes of their own: a volume counts
    // only if it was dangling right after the conversion and still is after the checks below
    // (a volume another run was removing with its container is gone by then).
    const dangling = () => new Set(sh('docker', ['volume', 'ls', '-q', '--filter', 'dangling=true']).split('\n').filter(Boolean))
    const volumesBefore = dangling()
    const sif = await convert(t, image)
    const addedVolumes = [...dangling()].filter((v) => !volumesBefore.has(v))
    t.equal(statSync(sif).mode & 0o777, 0o755, 'mode 0755')
    const list = sh('siftool', ['list', sif])
    t.match(list, /1 .*Def\.FILE\n.*2 .*JSON\.Generic\n.*3 .*JSON\.Generic\n.*4 .*FS \(Squashfs\/\*System\/amd64\)/)
    const root = unpackPartition(sif, 4, tempDir(t, 'casa-parity-unpack-'))
    const ours = tree(root)
    const referenceRoot = referenceRootfs(t, image)
    const reference = tree(referenceRoot)
    let compared = 0
    for (const [path, entry] of reference) {
      const mine = ours.get(path)
      if (!mine) {
        t.fail(`missing from the SIF: ${path}`)
        continue
      }
      if (emptied.has(path)) {
        t.same([mine.type, mine.mode, mine.size], ['file', 0o644, 0], `${path}: empty, 0644, as Apptainer writes it`)
        continue
      }
      if (path.startsWith('.singularity.d/') && added.has(path)) continue
      compared++
      if (JSON.stringify(mine) !== JSON.stringify(entry)) t.same(mine, entry, `same entry: ${path}`)
    }
    t.ok(compared > 0, `${compared} entries compared`)
    for (const path of ours.keys()) if (!reference.has(path) && !added.has(path) && !emptied.has(path)) t.fail(`added but not documented: ${path}`)
    t.notOk(ours.has('.dockerenv'), 'no /.dockerenv')
    if (image === debian) {
      // mmdebstrap wrote one (docker export would give an empty file there instead)
      t.not(readFileSync(join(referenceRoot, 'etc/hostname'), 'utf8'), '')
      t.equal(readFileSync(join(root, 'etc/hostname'), 'utf8'), readFileSync(join(referenceRoot, 'etc/hostname'), 'utf8'), "the image's own /etc/hostname")
      t.equal(ours.get('etc/mtab')?.link, reference.get('etc/mtab')?.link, "the image's /etc/mtab link")
      t.ok(ours.get('usr/local/bin/hello-hard')?.hard.includes('usr/bin/hello'), 'hard link kept')
      t.equal(ours.get('srv/data')?.uid, 1234, 'owner kept')
    }
    const stillDangling = dangling()
    t.same(addedVolumes.filter((v) => stillDangling.has(v)), [], 'no volume left behind (docker volume ls)')
    // The metadata object in pkg/inspect's shape (Metadata{Data{Attributes}, Type}).
    const metadata = JSON.parse(sh('siftool', ['dump', '2', sif]))
    t.same(Object.keys(metadata).sort(), ['data', 'type'])
    t.equal(metadata.type, 'container')
    const allowed = ['apps', 'environment', 'labels', 'runscript', 'test', 'helpfile', 'deffile', 'startscript']
    t.same(Object.keys(metadata.data.attributes).filter((k) => !allowed.includes(k)), [], "only pkg/inspect's attributes")
    for (const key of ['labels', 'environment']) t.ok(Object.values(metadata.data.attributes[key]).every((v) => typeof v === 'string'), `${key}: strings`)
    t.same(metadata.data.attributes.labels, JSON.parse(readFileSync(join(root, '.singularity.d/labels.json'), 'utf8')), 'labels = labels.json')
    t.equal(metadata.data.attributes.runscript, readFileSync(join(root, '.singularity.d/runscript'), 'utf8').replace(/\n+$/, ''))
    t.equal(`${metadata.data.attributes.deffile}\n`, sh('siftool', ['dump', '1', sif]).replace(/\n+$/, '\n'))
  })
}

t.test("the architecture of the image's binaries when docker's field says another", async (t) => {
  const tag = `${ns}/arm:${run}`
  const context = tempDir(t, 'casa-parity-arm-')
  const header = Buffer.alloc(64)
  header.write('\x7fELF', 0, 'latin1')
  header[4] = 2 // 64-bit
  header[5] = 1 // little-endian
  header.writeUInt16LE(183, 18) // EM_AARCH64
  writeFileSync(join(context, 'sh'), header)
  writeFileSync(join(context, 'Dockerfile'), 'FROM scratch\nCOPY sh /bin/sh\n')
  sh('docker', ['build', '--network=host', '-q', '-t', tag, context])
  t.teardown(() => void spawnSync('docker', ['image', 'rm', tag]))
  t.equal(sh('docker', ['image', 'inspect', '-f', '{{.Architecture}}', tag]).trim(), 'amd64', 'docker says amd64')
  const sif = await convert(t, tag)
  t.match(sh('siftool', ['header', sif]), /Primary Architecture:\s+arm64/)
  t.match(sh('siftool', ['list', sif]), /FS \(Squashfs\/\*System\/arm64\)/)
  t.equal(JSON.parse(sh('siftool', ['dump', '2', sif])).data.attributes.labels['org.label-schema.build-arch'], 'arm64')
})

t.test("what Apptainer's runtime does at start (harness) gives what docker run gives", async (t) => {
  for (const image of [debian, noShell, tricky]) {
    const sif = await convert(t, image)
    const harness = installHarness(unpackPartition(sif, 4, tempDir(t, 'casa-parity-run-')))
    const same = (args: string[], docker: string[], what: string) => {
      const ours = harness(args[0] as 'run' | 'exec', args.slice(1))
      const theirs = dockerRun(docker)
      t.equal(theirs.status, 0, `docker run ${what}: ${theirs.stderr}`)
      t.same({ status: ours.status, stdout: ours.stdout }, { status: 0, stdout: theirs.stdout }, `${image}: ${what} ${ours.stderr}`)
    }
    same(['run'], [image], 'run without arguments')
    same(['run', 'x  y', 'z'], [image, 'x  y', 'z'], 'run with arguments')
    if (image === noShell) {
      same(['exec', '/busybox', 'echo', 'a b'], ['--entrypoint', '/busybox', image, 'echo', 'a b'], 'exec')
      continue
    }
    const show = 'printf "%s|" "$SPACES" "$DOLLAR" "$QUOTES" "$BACKSLASH"'
    same(['exec', '/bin/sh', '-c', show], ['--entrypoint', '/bin/sh', image, '-c', show], 'exec with tricky ENV values')
    // Where Apptainer differs from docker by design: its default PATH directories are appended
    // when missing (fixpath), and 99-base.sh appends its libs directory.
    const dockerPath = dockerRun(['--entrypoint', '/bin/sh', image, '-c', 'echo "$PATH"']).stdout.trim().split(':')
    const defaults = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']
    t.equal(harness('exec', ['/bin/sh', '-c', 'echo "$PATH"']).stdout, `${[...dockerPath, ...defaults.filter((d) => !dockerPath.includes(d))].join(':')}\n`, "PATH: docker's, then Apptainer's missing defaults")
    const libs = harness('exec', ['/bin/sh', '-c', 'echo "$LD_LIBRARY_PATH"']).stdout
    t.equal(libs, `${image === tricky ? '/opt/lib:' : ''}/.singularity.d/libs\n`, 'LD_LIBRARY_PATH: the image value, then /.singularity.d/libs (as under Apptainer)')
  }
})

t.test('casa env rules under Apptainer: given with --env / APPTAINERENV_, they take effect', async (t) => {
  const sif = await convert(t, debian)
  const harness = installHarness(unpackPartition(sif, 4, tempDir(t, 'casa-parity-env-')))
  const imagePath = debianEnv[0]!.slice(5)
  const show = (options: Parameters<typeof harness>[2]) => harness('exec', ['/bin/sh', '-c', 'printf "%s|" "$PATH" "$MYPATH" "${PATH_PREPEND:-}"'], options).stdout.split('|')
  t.same(show({}).slice(0, 2), [imagePath, '/opt/a:/opt/b'], 'the image ENV')
  t.same(show({ forwarded: { PATH_PREPEND: '/x' } }).slice(0, 1), [`/x:${imagePath}`], '--env PATH_PREPEND=/x')
  t.same(show({ forwarded: { MYPATH_APPEND: '/z', MYPATH_INIT: '/init' } }).slice(1, 2), ['/init:/z'], 'any *PATH variable of the ENV: _INIT then _APPEND')
  // A plain host variable is not seen by the fragments (restored only at the end): the route is --env.
  const plain = show({ env: { PATH_PREPEND: '/host' } })
  t.same([plain[0], plain[2]], [imagePath, '/host'], 'a plain host PATH_PREPEND does not change PATH (restored as a variable only)')
  // Singularity 2/3: the image's own action scripts, in the caller's environment: applied once.
  const s2 = unpackPartition(sif, 4, tempDir(t, 'casa-parity-s2-'))
  const viaActions = sh('/usr/bin/env', ['-i', 'PATH_PREPEND=/pre', '/usr/sbin/chroot', s2, '/.singularity.d/actions/exec', '/bin/sh', '-c', 'echo "$PATH"'])
  t.equal(viaActions, `/pre:${imagePath}\n`, 'Singularity 2 actions: PATH_PREPEND applied once')
})

t.test('reproducible: the same image converted twice, elsewhere, later, with another TMPDIR, gives the same bytes; a rebuilt image other bytes', async (t) => {
  const first = await convert(t, tricky, { TMPDIR: tempDir(t, 'casa-parity-tmp1-') })
  // The second on a tmpfs: no insert-range there, so the squashfs goes through TMPDIR and is copied.
  const mount = tempDir(t, 'casa-parity-tmpfs-')
  sh('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mount])
  t.teardown(() => void spawnSync('umount', [mount]))
  const second = await convert(t, tricky, { TMPDIR: tempDir(t, 'casa-parity-tmp2-') }, mount)
  const md5 = (file: string) => sh('md5sum', [file]).split(' ')[0]
  t.equal(md5(second), md5(first), 'byte-identical')
  t.equal(readFileSync(`${second}.md5`, 'utf8'), readFileSync(`${first}.md5`, 'utf8'))
  const rebuilt = `${ns}/tricky:${run}rebuilt`
  build(rebuilt, trickyDockerfile, {}, ['--no-cache', '--label', `rebuilt=${run}`])
  t.teardown(() => void spawnSync('docker', ['image', 'rm', rebuilt]))
  const other = await convert(t, rebuilt)
  t.not(md5(other), md5(first), 'a rebuilt image gives another file')
  t.not(sh('siftool', ['header', other]).match(/ID:\s+(\S+)/)?.[1], sh('siftool', ['header', first]).match(/ID:\s+(\S+)/)?.[1], 'and another SIF id')
})

t.test("the init-layer paths read from the engine's layer directories = read from docker save", async (t) => {
  // Conversions here (root) read the layer directories; elsewhere docker save is read: both
  // must give the same entries. Compared through GNU tar's listing and the files' contents.
  const described = (bytes: Buffer) => {
    const tar = Buffer.concat([bytes, Buffer.alloc(1024)])
    const listing = execFileSync('tar', ['-tv', '--numeric-owner', '--full-time', '-f', '-'], { input: tar, encoding: 'utf8' }).trim()
    const content = /^-/.test(listing) ? execFileSync('tar', ['-xO', '-f', '-'], { input: tar }).toString('base64') : ''
    return `${listing.replace(/ \.?\/?([^ ]+)$/, ' $1')} ${content}`
  }
  for (const image of [debian, noShell, tricky]) {
    const inspected = JSON.parse(sh('docker', ['image', 'inspect', image]))[0]
    const fast = await entriesFromLayerDirectories(inspected.GraphDriver, initLayerPaths)
    t.ok(fast, `${image}: layer directories readable here`)
    const save = spawnSync('docker', ['save', image], { maxBuffer: 1 << 30 }).stdout
    const viaSave = await imageEntriesAt((await import('node:stream')).Readable.from([save]))
    t.same(fast!.map((e) => [e.path, e.type, described(e.bytes)]), viaSave.map((e) => [e.path, e.type, described(e.bytes)]), `${image}: the same entries`)
  }
  t.equal(await entriesFromLayerDirectories({ Name: 'vfs', Data: {} }, initLayerPaths), undefined, 'another driver: docker save instead')
  t.equal(await entriesFromLayerDirectories({ Name: 'overlay2', Data: { UpperDir: '/nonexistent/diff' } }, initLayerPaths), undefined, 'directories not here (a remote engine): docker save instead')
})
