// create_singularity killed with SIGKILL at several points, then run again: the re-run
// succeeds, its SIF file is the one a clean conversion writes (same md5: conversions are
// reproducible), and nothing the killed run made remains: no temporary file beside the output
// or in its TMPDIR, no export container, no anonymous volume of that container. A run that is
// alive keeps its container and temporary file while another run converts the same image.
// Real Docker engine, real tar2sqfs; to hold a run at a point, a shell script stands in front
// of tar2sqfs (passing the first bytes of the export, then waiting) or of fallocate (waiting
// before the SIF head is put in front): the test kills the run once the script says it holds.
import t, { type Test } from 'tap'
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { heldProgram, killTree, startCli, waitFor } from './helpers/killPoint.js'
import { ensureBusyboxImage } from './helpers/services.js'
import { tempDir } from './helpers/tmp.js'

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const image = `casa-test-kill/sif:r${process.pid}`
const sifName = `casa-test-kill_sif_r${process.pid}.sif`

/** The containers made from our test image (its tag is this run's only), whatever named them. */
const containersOfImage = () => sh('docker', ['ps', '-a', '-q', '--no-trunc', '--filter', `ancestor=${image}`]).split('\n').filter(Boolean)
const volumesOf = (container: string) => sh('docker', ['inspect', '-f', '{{range .Mounts}}{{.Name}} {{end}}', container]).split(' ').filter(Boolean)
const volumeExists = (name: string) => spawnSync('docker', ['volume', 'inspect', name], { stdio: 'ignore' }).status === 0

{
  const context = tempDir(t, 'casa-kill-ctx-')
  // A VOLUME: docker create makes an anonymous volume, which must go with the container. A
  // few MB of random data: the export is still streaming when the run is held after 2 MiB.
  writeFileSync(join(context, 'Dockerfile'), `FROM ${ensureBusyboxImage()}\nCOPY blob /data/blob\nVOLUME /data\n`)
  writeFileSync(join(context, 'blob'), execFileSync('head', ['-c', String(4 << 20), '/dev/urandom'], { maxBuffer: 8 << 20 }))
  sh('docker', ['build', '--network=host', '-q', '-t', image, context])
}
t.teardown(() => {
  // only ours: containers of our image, whatever this test failed to see removed
  for (const id of containersOfImage()) spawnSync('docker', ['rm', '-f', '-v', id])
  spawnSync('docker', ['image', 'rm', image])
})

const realTar2sqfs = sh('sh', ['-c', 'command -v tar2sqfs']).trim()
const realFallocate = sh('sh', ['-c', 'command -v fallocate']).trim()

/**
 * A repository with its own HOME and TMPDIR. `outputOnTmpfs`: the repository (the output
 * directory) on /dev/shm, where fallocate cannot insert a range: the squashfs is then built
 * in TMPDIR (on the disk) and copied behind the SIF head.
 */
function repository({ outputOnTmpfs = false } = {}): { dir: string; tmp: string; env: Record<string, string> } {
  const dir = outputOnTmpfs ? mkdtempSync('/dev/shm/casa-kill-repo-') : tempDir(t, 'casa-kill-repo-')
  if (outputOnTmpfs) t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const home = join(dir, '.home')
  // the run's own TMPDIR: what it leaves there is its own
  const tmp = outputOnTmpfs ? tempDir(t, 'casa-kill-tmp-') : join(dir, '.tmp')
  mkdirSync(home)
  mkdirSync(tmp, { recursive: true })
  writeFileSync(join(dir, 'casa.config.ts'), 'export default { singularity: { compressor: "gzip" } }\n')
  return { dir, tmp, env: { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts'), TMPDIR: tmp } }
}

const md5sum = (file: string) => sh('md5sum', [file]).split(' ')[0]

// The SIF file a conversion never interrupted writes.
let cleanMd5 = ''
t.before(async () => {
  const repo = repository()
  const r = await runCli(['-r', repo.dir, 'create_singularity', `image_names=${image}`], { env: repo.env })
  if (r.code !== 0) throw new Error(r.stderr)
  cleanMd5 = md5sum(join(repo.dir, sifName))
})

/** Names in the repository that are neither the SIF files nor the test's own. */
const temporaries = (dir: string) => readdirSync(dir).filter((n) => !['casa.config.ts', '.home', '.tmp', sifName, `${sifName}.md5`, `${sifName}.dockerid`].includes(n))

/** The re-run: it succeeds, its SIF file is whole, nothing of the killed run is left. */
async function rerunIsClean(t: Test, repo: ReturnType<typeof repository>, killedVolumes: string[]) {
  const r = await runCli(['-r', repo.dir, 'create_singularity', `image_names=${image}`, 'force=1'], { env: repo.env })
  t.equal(r.code, 0, r.stderr)
  const sif = join(repo.dir, sifName)
  t.equal(md5sum(sif), cleanMd5, 'the SIF file is the one a clean conversion writes')
  t.equal(readFileSync(`${sif}.md5`, 'utf8').trim(), cleanMd5, 'its .md5 says so')
  t.match(sh('siftool', ['list', sif]), /FS \(Squashfs/, 'siftool reads it')
  t.same(temporaries(repo.dir), [], 'no temporary file beside the output')
  t.same(readdirSync(repo.tmp), [], 'nothing in the TMPDIR')
  t.same(containersOfImage(), [], 'no export container')
  t.same(killedVolumes.filter(volumeExists), [], "no anonymous volume of the killed run's container")
}

/**
 * A PATH holding the stand-in of `program`, and the file it creates once it holds: tar2sqfs
 * held after `holdAfterBytes` of its input; fallocate held when its file matches `fileGlob`
 * (the output directory's probe, or the temporary SIF file), else the real one run.
 */
function held(program: 'tar2sqfs' | 'fallocate', { holdAfterBytes = 0, fileGlob = '' } = {}): { path: string; mark: string } {
  const dir = tempDir(t, 'casa-kill-bin-')
  const mark = join(dir, 'holding')
  const script =
    program === 'tar2sqfs'
      ? `{ head -c ${holdAfterBytes}; : > '${mark}'; exec sleep 100000; } | exec '${realTar2sqfs}' "$@"`
      : `for last; do :; done\ncase "$last" in ${fileGlob}) : > '${mark}'; exec sleep 100000;; esac\nexec '${realFallocate}' "$@"`
  heldProgram(dir, program, script)
  return { path: `${dir}:${process.env.PATH}`, mark }
}

t.test('killed once the export container exists; a run alive meanwhile keeps it', async (t) => {
  const repo = repository()
  const hold = held('tar2sqfs')
  const first = startCli(['-r', repo.dir, 'create_singularity', `image_names=${image}`], { ...repo.env, PATH: hold.path })
  const [container] = await waitFor(first, 'the export container appeared', () => {
    const found = containersOfImage()
    return found.length > 0 && existsSync(hold.mark) && found
  })
  const volumes = volumesOf(container!)
  t.ok(volumes.length > 0, 'the container has its anonymous volume')
  const firstTemporaries = temporaries(repo.dir)
  t.ok(firstTemporaries.length > 0, 'the first run has its temporary SIF file')

  // a second run of the same conversion while the first is alive: it must leave the first's alone
  const second = await runCli(['-r', repo.dir, 'create_singularity', `image_names=${image}`], { env: repo.env })
  t.equal(second.code, 0, second.stderr)
  t.same(containersOfImage(), [container], "the live run's container is kept")
  t.ok(firstTemporaries.every((n) => existsSync(join(repo.dir, n))), "the live run's temporary file is kept")

  await killTree(first)
  await rerunIsClean(t, repo, volumes)
})

t.test('killed while the export streams into the squashfs', async (t) => {
  const repo = repository()
  const hold = held('tar2sqfs', { holdAfterBytes: 2 << 20 })
  const run = startCli(['-r', repo.dir, 'create_singularity', `image_names=${image}`], { ...repo.env, PATH: hold.path })
  const [container] = await waitFor(run, '2 MiB of the export were streamed', () => existsSync(hold.mark) && containersOfImage())
  const volumes = volumesOf(container!)
  await killTree(run)
  const left = temporaries(repo.dir)
  t.ok(left.length > 0, `the killed run left its temporary SIF file (${left.map((n) => `${n}: ${statSync(join(repo.dir, n)).size} bytes`).join(', ')})`)
  t.ok(containersOfImage().length > 0, 'and its container')
  await rerunIsClean(t, repo, volumes)
})

t.test('killed while the SIF file is assembled (the squashfs built, the head not yet in front)', async (t) => {
  const repo = repository()
  const hold = held('fallocate', { fileGlob: '*.sif.tmp-*' })
  const run = startCli(['-r', repo.dir, 'create_singularity', `image_names=${image}`], { ...repo.env, PATH: hold.path })
  await waitFor(run, 'the SIF head was about to be put in front', () => existsSync(hold.mark))
  await killTree(run)
  t.ok(temporaries(repo.dir).length > 0, 'the killed run left its temporary SIF file, the whole squashfs')
  await rerunIsClean(t, repo, [])
})

t.test('killed while it probes whether the output directory can insert a range', async (t) => {
  const repo = repository()
  const hold = held('fallocate', { fileGlob: '*/.casa-probe-*' })
  const run = startCli(['-r', repo.dir, 'create_singularity', `image_names=${image}`], { ...repo.env, PATH: hold.path })
  await waitFor(run, 'the probe was made', () => existsSync(hold.mark))
  const [container] = await waitFor(run, 'the export container appeared', () => containersOfImage())
  const volumes = volumesOf(container!)
  await killTree(run)
  t.ok(temporaries(repo.dir).some((n) => n.startsWith('.casa-probe-')), 'the killed run left its probe')
  await rerunIsClean(t, repo, volumes)
})

t.test('killed while the export streams into a squashfs in TMPDIR (an output directory that cannot insert a range)', async (t) => {
  const repo = repository({ outputOnTmpfs: true })
  const hold = held('tar2sqfs', { holdAfterBytes: 2 << 20 })
  const run = startCli(['-r', repo.dir, 'create_singularity', `image_names=${image}`], { ...repo.env, PATH: hold.path })
  const [container] = await waitFor(run, '2 MiB of the export were streamed', () => existsSync(hold.mark) && containersOfImage())
  const volumes = volumesOf(container!)
  await killTree(run)
  const left = readdirSync(repo.tmp)
  t.ok(left.some((n) => n.endsWith('.squashfs')), `the killed run left its squashfs in TMPDIR (${left.join(', ')})`)
  await rerunIsClean(t, repo, volumes)
})
