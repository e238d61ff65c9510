// Carrying out a build plan: up to `jobs` images at once, each as soon as everything it depends
// on is done. For one image: pull the FROM images of a definition without dependencies (an
// offline site with the image present only gets a warning), check the labels (context digest,
// base ids) and skip an image that is up to date, otherwise stage the context in a temporary
// directory, `docker build --network=host --force-rm`, add the other tags and remove the
// superseded image ids nobody tags any more. A failure skips what depends on it; the rest goes on.
import { rm } from 'node:fs/promises'
import { docker, inspectImages, pullImage, removeUntagged, type ImageInfo } from './docker.js'
import { contextDigest, contextFiles, stageContext } from '../images/buildContext.js'
import { freshness, labels, shortId, type BuildPlan, type PlanItem } from '../images/buildPlan.js'
import { errorMessage, UserError } from '../util/errors.js'
import { lastLines } from '../util/exec.js'
import { onInterrupt } from '../util/interrupt.js'
import { ui } from '../util/ui.js'


/**
 * The legacy builder prints a deprecation notice ("DEPRECATED: The legacy builder ... Install
 * the buildx component ... https://docs.docker.com/go/buildx/") on stderr: it would take the
 * place of the real reason in a build failure's last lines.
 */
function withoutBuildxNotice(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !/^\s*(DEPRECATED: The legacy builder is deprecated|Install the buildx component to build images with BuildKit:|https:\/\/docs\.docker\.com\/go\/buildx\/?)/.test(l))
    .join('\n')
}
export type BuildStatus = 'built' | 'up to date' | 'failed' | 'skipped'

export interface BuildOutcome {
  reference: string
  status: BuildStatus
  /** Wall time of this image's work, in milliseconds. */
  ms: number
  /** Image id, the failure, or why it was skipped. */
  detail: string
}

export interface BuildOptions {
  /** config.docker.builder: a buildx builder instead of the engine's own `docker build`. */
  builder?: string
  /** Old base image ids replaced by the pulls (removed at the end when nothing uses them). */
  superseded?: readonly string[]
  jobs: number
  force?: boolean
  signal?: AbortSignal
}

export async function executePlan(plan: BuildPlan, options: BuildOptions): Promise<BuildOutcome[]> {
  const outcomes = new Map<PlanItem, BuildOutcome>()
  const byReference = new Map(plan.items.map((item) => [item.image.reference, item]))
  const pending = [...plan.items]
  const running = new Set<Promise<void>>()
  // Old ids that could not go yet (an old dependent image still had them as parent).
  const leftovers = new Set<string>()
  for (const id of options.superseded ?? []) leftovers.add(id)

  const blockedBy = (item: PlanItem): PlanItem | undefined =>
    item.dependsOn.map((ref) => byReference.get(ref)).find((dep) => dep && outcomes.has(dep) && (outcomes.get(dep)!.status === 'failed' || outcomes.get(dep)!.status === 'skipped'))
  const ready = (item: PlanItem): boolean => item.dependsOn.every((ref) => !byReference.has(ref) || outcomes.has(byReference.get(ref)!))

  while (pending.length > 0 || running.size > 0) {
    for (let i = 0; i < pending.length && running.size < Math.max(1, options.jobs); ) {
      const item = pending[i]!
      const blocker = blockedBy(item)
      if (blocker) {
        pending.splice(i, 1)
        outcomes.set(item, { reference: item.image.reference, status: 'skipped', ms: 0, detail: `${blocker.image.reference} ${outcomes.get(blocker)!.status}` })
        ui.warn(`${item.image.reference}: skipped (${blocker.image.reference} ${outcomes.get(blocker)!.status})`)
        i = 0 // a skip may unblock the scan from the start
        continue
      }
      if (!ready(item) || options.signal?.aborted) {
        i++
        continue
      }
      pending.splice(i, 1)
      if (item.action === 'up to date' && item.localId) {
        // Decided by the plan from labels after the pulls: nothing to run but missing tags.
        const job = upToDate(item).then((outcome) => {
          outcomes.set(item, outcome)
        }, (error) => {
          outcomes.set(item, { reference: item.image.reference, status: 'failed', ms: 0, detail: errorMessage(error) })
        }).finally(() => running.delete(job))
        running.add(job)
        continue
      }
      const started = Date.now()
      const job = buildOne(item, options, leftovers)
        .then(
          (result) => {
            outcomes.set(item, { reference: item.image.reference, ms: Date.now() - started, ...result })
          },
          (error) => {
            outcomes.set(item, { reference: item.image.reference, status: 'failed', ms: Date.now() - started, detail: errorMessage(error) })
            ui.error(`${item.image.reference}: ${errorMessage(error)}`)
          },
        )
        .finally(() => running.delete(job))
      running.add(job)
    }
    if (running.size === 0) {
      if (pending.length > 0 && options.signal?.aborted) break
      if (pending.length > 0 && !pending.some(ready)) throw new Error('build plan stuck: dependencies never finish')
      continue
    }
    await Promise.race(running)
  }
  for (let before = Infinity; leftovers.size > 0 && leftovers.size < before; ) {
    before = leftovers.size
    const ids = [...leftovers]
    leftovers.clear()
    await removeSuperseded(ids, leftovers)
  }
  return plan.items.map((item) => outcomes.get(item) ?? { reference: item.image.reference, status: 'skipped' as const, ms: 0, detail: 'interrupted' })
}

async function buildOne(item: PlanItem, options: BuildOptions, leftovers: Set<string>): Promise<{ status: BuildStatus; detail: string }> {
  const image = item.image
  return ui.step(
    `${image.reference}`,
    async (step) => {
      step.update('checking')
      const files = await contextFiles(image)
      const digest = contextDigest(files)
      const found = await inspectImages([image.reference, ...item.bases, ...image.tags.map((t) => `${image.repository}:${t}`)])
      const missing = item.bases.filter((b) => !found.has(b))
      const baseIds = item.bases.map((b) => found.get(b)?.Id ?? 'missing')
      const local = found.get(image.reference)
      const fresh = freshness(image, digest, baseIds, local)
      if (fresh.upToDate && !(options.force && item.selected)) {
        await addTags(image.repository, image.tags, local!)
        return { status: 'up to date' as const, detail: shortId(local!.Id) }
      }
      if (missing.length > 0 && image.definition.dependencies.length > 0) {
        throw new UserError(`base image ${missing.join(', ')} is not present (build its definition first)`)
      }
      const before = new Set([...image.tags.map((t) => found.get(`${image.repository}:${t}`)?.Id)].filter((id): id is string => !!id))
      const context = await stageContext(files)
      const unregister = onInterrupt(() => rm(context, { recursive: true, force: true }))
      try {
        step.update(`building (${fresh.reason})`)
        // A buildx builder (BuildKit, possibly remote) must --load the result into the engine;
        // host networking there needs an entitlement, so it stays the builder's default.
        const args = options.builder ? ['buildx', 'build', '--builder', options.builder, '--load', '--tag', image.reference] : ['build', '--network=host', '--force-rm', '--tag', image.reference]
        // force=1 means a real rebuild (fresh packages), not a replay of docker's layer cache.
        if (options.force && item.selected) args.push('--no-cache')
        args.push('--label', `${labels.context}=${digest}`, '--label', `${labels.base}=${baseIds.join(',')}`, '--label', `${labels.definition}=${image.definition.key}`)
        args.push(context)
        const result = await docker(args, {
          allowFailure: true,
          signal: options.signal,
          onOutput: (chunk) => {
            const line = lastLines(chunk, 1)
            if (line) step.update(line.slice(0, 80))
          },
        })
        if (result.exitCode !== 0) throw new UserError(`docker build failed: ${lastLines(withoutBuildxNotice(result.stderr) || result.stdout, 3)}`)
      } finally {
        unregister()
        await rm(context, { recursive: true, force: true })
      }
      const built = (await inspectImages([image.reference])).get(image.reference)
      if (!built) throw new UserError(`docker build reported success but ${image.reference} is absent`)
      await addTags(image.repository, image.tags, built)
      await removeSuperseded([...before].filter((id) => id !== built.Id), leftovers)
      return { status: 'built' as const, detail: shortId(built.Id) }
    },
    (result) => `${image.reference}: ${result.status} (${result.detail})`,
  )
}

async function upToDate(item: PlanItem): Promise<BuildOutcome> {
  const present = new Set(item.localTags ?? [])
  for (const tag of item.image.tags) {
    const reference = `${item.image.repository}:${tag}`
    if (!present.has(reference)) await docker(['tag', item.localId!, reference])
  }
  return { reference: item.image.reference, status: 'up to date', ms: 0, detail: shortId(item.localId!) }
}

/** `docker tag` the image under every tag that does not already point at it. */
async function addTags(repository: string, tags: readonly string[], image: ImageInfo): Promise<void> {
  const present = new Set(image.RepoTags ?? [])
  for (const tag of tags) {
    const reference = `${repository}:${tag}`
    if (!present.has(reference)) await docker(['tag', image.Id, reference])
  }
}

/**
 * Remove old image ids that no tag names any more. One still used as the parent of an old
 * dependent image goes into `leftovers`, retried once that dependent is gone; one a container
 * uses stays (fine).
 */
async function removeSuperseded(ids: readonly string[], leftovers: Set<string>): Promise<void> {
  for (const id of await removeUntagged(ids)) leftovers.add(id)
}

/**
 * Pull the FROM images of the definitions without dependencies, all at once. A failed pull of
 * an image present locally is a warning (offline sites); of an absent one, an error.
 * `beforePulls` is the engine's view taken as the pulls start (a base a fast pull already
 * replaced then shows its new id, and its old id is left to docker like any dangling image);
 * returns the bases a pull refreshed and the old ids they replaced.
 */
export async function pullBases(bases: readonly string[], beforePulls: Promise<ReadonlyMap<string, ImageInfo>>, signal?: AbortSignal): Promise<{ refreshed: Map<string, ImageInfo>; superseded: string[] }> {
  const [results, before] = await Promise.all([Promise.all(bases.map((base) => pullImage(base, signal))), beforePulls])
  const pulled = bases.filter((_, i) => results[i]!.ok)
  const refreshed = pulled.length > 0 ? await inspectImages(pulled) : new Map<string, ImageInfo>()
  const superseded: string[] = []
  bases.forEach((base, i) => {
    const old = before.get(base)
    if (!results[i]!.ok) {
      if (!old) throw new UserError(`cannot pull base image ${base}: ${results[i]!.message}`)
      ui.warn(`cannot pull ${base} (${results[i]!.message}); using the local image ${shortId(old.Id)}`)
    } else if (old && refreshed.get(base)?.Id !== old.Id) superseded.push(old.Id)
  })
  return { refreshed, superseded }
}

/** The summary table: one row per image, then the counts. */
export function summaryTable(outcomes: readonly BuildOutcome[]): string {
  const seconds = (ms: number) => (ms ? `${(ms / 1000).toFixed(1)}s` : '-')
  const rows = outcomes.map((o) => [o.reference, o.status, seconds(o.ms), o.detail])
  const counts = (['built', 'up to date', 'failed', 'skipped'] as const).map((s) => `${outcomes.filter((o) => o.status === s).length} ${s}`)
  return `${ui.table(['image', 'result', 'time', 'detail'], rows)}\n${counts.join(', ')}`
}
