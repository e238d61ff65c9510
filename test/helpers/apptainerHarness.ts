// What Apptainer 1.x's runtime does when a container starts, done in a chroot of a SIF's
// partition, since Apptainer itself cannot be installed here. Written from reading its
// action script (internal/pkg/util/fs/files/action_script.sh) and process_linux.go, not
// copied: the environment is cleared (PWD and HOME kept), /.singularity.d/env/*.sh are sourced
// in order, the PATH completed with Apptainer's default directories after the docker fragment,
// the forwarded values (`--env`, APPTAINERENV_*) injected right after 99-base.sh, the caller's
// other variables restored at the end when the image did not set them (empty ones unset),
// then `exec` runs its command and `run` the runscript: a docker runscript (its
// `eval "set ${SINGULARITY_OCI_RUN}"` line) is run by the runtime's own shell, so images
// without /bin/sh run. That shell is Apptainer's embedded interpreter there; here it is a
// static busybox put in the chroot under /.casa-harness, outside the image's own paths.
import { execFileSync, spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const script = readFileSync(fileURLToPath(new URL('./apptainer-action.sh', import.meta.url)), 'utf8')

/** A word for sh, single-quoted. */
const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`

export interface HarnessRun {
  status: number
  stdout: string
  stderr: string
}

/** Install the harness in an unpacked root file system (we are root: chroot works). */
export function installHarness(root: string): (action: 'run' | 'exec', args: string[], options?: { env?: Record<string, string>; forwarded?: Record<string, string> }) => HarnessRun {
  const dir = join(root, '.casa-harness')
  mkdirSync(dir, { recursive: true })
  copyFileSync('/bin/busybox', join(dir, 'busybox'))
  writeFileSync(join(dir, 'action.sh'), script)
  return (action, args, options = {}) => {
    writeFileSync(join(dir, 'inject.sh'), Object.entries(options.forwarded ?? {}).map(([k, v]) => `export ${k}=${quote(v)}\n`).join(''))
    const env = Object.entries({ HOME: '/root', ...options.env }).map(([k, v]) => `${k}=${v}`)
    const result = spawnSync('/usr/bin/env', ['-i', ...env, '/usr/sbin/chroot', root, '/.casa-harness/busybox', 'sh', '/.casa-harness/action.sh', action, ...args], { encoding: 'utf8' })
    return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr }
  }
}

/** Unpack a SIF's partition (siftool dump of the partition id) into `root`, owners and devices kept. */
export function unpackPartition(sif: string, partitionId: number, work: string): string {
  const part = join(work, 'part.sqfs')
  writeFileSync(part, execFileSync('siftool', ['dump', String(partitionId), sif], { maxBuffer: 1 << 30 }))
  const root = join(work, 'root')
  execFileSync('unsquashfs', ['-q', '-n', '-d', root, part])
  return root
}
