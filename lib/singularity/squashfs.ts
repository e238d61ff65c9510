// The squashfs builder fed by a tar stream on its stdin: `tar2sqfs` (squashfs-tools-ng),
// which keeps owners, modes, links and xattrs from the tar headers without root; else
// `mksquashfs - OUT -tar` of squashfs-tools 4.6 or later. Only this module starts them.
import type { ChildProcess } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { UserError } from '../util/errors.js'
import { isInstalled, run, start } from '../util/exec.js'

export type Compressor = 'gzip' | 'zstd' | 'xz' | 'lz4'

export interface SquashfsBuilder {
  program: 'tar2sqfs' | 'mksquashfs'
  argv(output: string, compressor: Compressor): string[]
}

/**
 * Compression levels where the builders' defaults are a poor trade: gzip's default of 9 took
 * 1.5 to 2.5 times as long as level 6 for images 0.4% smaller (670 MB of /usr, tar2sqfs -j 2);
 * zstd 3 is zstd's own default, far faster than the builders' 15 or 19.
 */
const levels: Partial<Record<Compressor, number>> = { gzip: 6, zstd: 3 }

const tar2sqfs: SquashfsBuilder = {
  program: 'tar2sqfs',
  argv: (output, compressor) => [
    '--quiet',
    '--no-skip',
    '--force',
    '--compressor',
    compressor,
    ...(levels[compressor] ? ['--comp-extra', `level=${levels[compressor]}`] : []),
    '--num-jobs',
    String(availableParallelism()),
    output,
  ],
}

const mksquashfsTar: SquashfsBuilder = {
  program: 'mksquashfs',
  argv: (output, compressor) => ['-', output, '-tar', '-noappend', '-quiet', '-no-progress', '-comp', compressor, ...(levels[compressor] ? ['-Xcompression-level', String(levels[compressor])] : [])],
}

let chosen: Promise<SquashfsBuilder> | undefined

/** tar2sqfs, else mksquashfs >= 4.6, else a one-line error naming the package. */
export function squashfsBuilder(): Promise<SquashfsBuilder> {
  chosen ??= (async () => {
    if (await isInstalled('tar2sqfs')) return tar2sqfs
    if (await isInstalled('mksquashfs')) {
      const { stdout, stderr } = await run('mksquashfs', ['-version'], { allowFailure: true })
      const match = /version (\d+)\.(\d+)/.exec(stdout + stderr)
      if (match && (Number(match[1]) > 4 || (Number(match[1]) === 4 && Number(match[2]) >= 6))) return mksquashfsTar
    }
    throw new UserError('no squashfs builder reading tar streams: install the squashfs-tools-ng package (tar2sqfs), or squashfs-tools 4.6 or later')
  })()
  chosen.catch(() => (chosen = undefined))
  return chosen
}

/** Start the builder writing `output`; the caller pipes the tar stream into its stdin. */
export async function startSquashfs(output: string, compressor: Compressor): Promise<ChildProcess> {
  const builder = await squashfsBuilder()
  return start(builder.program, builder.argv(output, compressor), { stdio: ['pipe', 'pipe', 'pipe'] })
}

/** The size a squashfs image says it uses (superblock bytes_used), or undefined if no superblock. */
export function squashfsBytesUsed(superblock: Buffer): number | undefined {
  if (superblock.length < 48 || superblock.toString('ascii', 0, 4) !== 'hsqs') return undefined
  return Number(superblock.readBigUInt64LE(40))
}
