// create_singularity's work: convert each SIF file that is out of date (or all with force),
// a few at once, one progress line each; one failure does not stop the other conversions.
import { mkdir } from 'node:fs/promises'
import type { ResolvedConfig } from '../config/config.js'
import { inspectImage } from '../docker/docker.js'
import { UserError } from '../util/errors.js'
import { eachLimited, throwCollected } from '../util/mapLimited.js'
import { convertImage } from './sifConvert.js'
import type { Compressor } from './squashfs.js'
import type { SingularityItem } from './singularityPlan.js'
import { ui } from '../util/ui.js'
import type { PrivateKey } from 'openpgp'
import { signStandIn } from './singularitySign.js'

export async function convertSingularityImages(config: ResolvedConfig, todo: readonly SingularityItem[], options: { compressor: Compressor; signal?: AbortSignal; signKey?: PrivateKey }): Promise<void> {
  if (todo.length === 0) return
  await mkdir(config.repository, { recursive: true })
  const errors = await eachLimited(todo, config.jobs, async (item) => {
    const image = await inspectImage(item.reference)
    if (!image) throw new UserError(`docker image ${item.reference} disappeared`)
    await ui.step(
      `${item.reference} -> ${item.file}`,
      async (step) => {
        const key = options.signKey
        // sign=1: signed before the file is assembled, so that it lands signed, in one rename
        const sign = key && ((standIn: string, digest: Buffer) => signStandIn(standIn, digest, key))
        return convertImage({ reference: item.reference, image, output: item.file, compressor: options.compressor, signal: options.signal, onProgress: (detail) => step.update(detail), sign })
      },
      (result) => `${item.reference} -> ${result.output} (${Math.round(result.size / 1e6)} MB)`,
    )
  })
  throwCollected(errors, (count) => `${count} of ${todo.length} conversions failed`)
}
