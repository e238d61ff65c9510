// Publishing and fetching catalog images through the docker hubs of the config: an image's
// `visibility` selects `hubs.docker.public` or `hubs.docker.private` (a registry plus a
// namespace). Pushes tag the local image for that registry, push every tag with the user's own
// `docker login` (never a password of ours), then check that the registry's manifest digest
// for each tag equals the local RepoDigest. update_docker pulls the other way.
import type { CasaConfig, DockerHub } from '../config/configSchema.js'
import { docker, inspectImages, pullImage, removeUntagged, useDockerEngine, type ImageInfo } from './docker.js'
import { UserError, errorMessage } from '../util/errors.js'
import { lastLines } from '../util/exec.js'
import { catalogFromConfig, type CatalogImage } from '../images/imageCatalog.js'
import { dockerCredentials, RegistryClient } from '../registry/registry.js'
import { matchImagesInOrder, shortId } from '../images/buildPlan.js'
import { eachLimited } from '../util/mapLimited.js'
import { ui } from '../util/ui.js'

export interface DockerHubs {
  public: DockerHub
  private?: DockerHub
}

/** The catalog images `filterText` selects, dependencies first, with the config's docker engine in use. */
export async function selectImages(config: CasaConfig, filterText: string): Promise<CatalogImage[]> {
  useDockerEngine(config.docker)
  return matchImagesInOrder(await catalogFromConfig(config), filterText)
}

/** The hub an image goes to, by its visibility. */
export function hubOf(image: CatalogImage, hubs: DockerHubs): DockerHub {
  if (image.visibility === 'private') {
    if (!hubs.private) throw new UserError(`${image.reference} is private but hubs.docker.private is not configured (${image.definition.file})`)
    return hubs.private
  }
  return hubs.public
}

/** `<registry>/<hub namespace>/<name>:<tag>`, as docker names it. */
export function hubReference(image: CatalogImage, hub: DockerHub, tag: string): string {
  return `${hub.registry}/${hub.namespace}/${image.name}:${tag}`
}

const refusedPattern = /unauthorized|authentication required|no basic auth credentials|denied|401 Unauthorized|403 Forbidden/i

export interface PushOutcome {
  reference: string
  status: 'pushed' | 'up to date' | 'failed'
  digest: string
  detail: string
}

/** The RepoDigest docker recorded for `remote`'s repository after a push. */
function repoDigest(info: ImageInfo, hub: DockerHub, name: string): string | undefined {
  const repository = `${hub.registry}/${hub.namespace}/${name}`
  const short = repository.replace(/^docker\.io\//, '')
  const entry = (info.RepoDigests ?? []).find((d) => d.startsWith(`${repository}@`) || d.startsWith(`${short}@`))
  return entry?.slice(entry.indexOf('@') + 1)
}

/** Why a tag cannot be pushed: said by the push and, beforehand, by its dry run. */
function notBuilt(local: string): string {
  return `${local} is not built (run create_docker image_names='${local}')`
}

async function pushTag(image: CatalogImage, hub: DockerHub, tag: string, signal?: AbortSignal): Promise<PushOutcome> {
  const local = `${image.repository}:${tag}`
  const remote = hubReference(image, hub, tag)
  const found = (await inspectImages([local])).get(local)
  if (!found) throw new UserError(notBuilt(local))
  const apiHost = hub.registry === 'docker.io' ? 'registry-1.docker.io' : hub.registry
  const registryDigest = async () => {
    const client = new RegistryClient(apiHost, `${hub.namespace}/${image.name}`, await dockerCredentials(hub.registry))
    return client.manifestDigest(tag)
  }
  return ui.step(
    `push ${remote}`,
    async (step) => {
      const previous = (await inspectImages([remote])).get(remote)
      // Pushed before and the registry still serves that very manifest: nothing to send.
      const pushedBefore = previous?.Id === found.Id ? repoDigest(previous, hub, image.name) : undefined
      if (pushedBefore && (await registryDigest().catch(() => undefined)) === pushedBefore) {
        return { reference: remote, status: 'up to date' as const, digest: pushedBefore, detail: `image ${shortId(found.Id)}` }
      }
      await docker(['tag', found.Id, remote])
      // The registry tag of an earlier push held the old build: let it go with its tag.
      if (previous && previous.Id !== found.Id) await removeUntagged([previous.Id])
      const result = await docker(['push', remote], {
        allowFailure: true,
        signal,
        onOutput: (chunk) => step.update(chunk.trim().split('\n').pop()?.slice(0, 80) ?? ''),
      })
      if (result.exitCode !== 0) {
        const said = `${result.stderr}\n${result.stdout}`
        if (refusedPattern.test(said)) throw new UserError(`push to ${hub.registry} refused: not logged in or not allowed (run: docker login ${hub.registry})`)
        // Docker says why on stderr ("dial tcp ...: connection refused"); stdout ends with a
        // progress banner ("The push refers to repository ...") that explains nothing.
        const reason = lastLines(result.stderr, 1) || lastLines(result.stdout, 1) || `exit ${result.exitCode}`
        throw new UserError(`docker push ${remote} failed: ${reason}`)
      }
      const pushed = (await inspectImages([remote])).get(remote)
      const localDigest = pushed && repoDigest(pushed, hub, image.name)
      if (!localDigest) throw new UserError(`docker push ${remote} left no repo digest on the local image`)
      const inRegistry = await registryDigest()
      if (inRegistry !== localDigest) {
        throw new UserError(`${remote}: the registry holds manifest ${inRegistry ?? 'none'} but the local repo digest is ${localDigest}`)
      }
      return { reference: remote, status: 'pushed' as const, digest: localDigest, detail: `image ${shortId(found.Id)}` }
    },
    (o) => `${o.reference} ${o.status} (${o.digest.slice(0, 19)}…, checked)`,
  )
}

export interface PlannedPush {
  local: string
  remote: string
  visibility: string
  /** `fail` where the push would fail before sending anything (the image is not built). */
  action: 'push' | 'fail'
  detail?: string
}

/**
 * What publishImages would do, for --dry-run: every tag with the reference it is pushed as,
 * and the tags it would fail on up front (not in the engine), with the push's own message.
 */
export async function planPushes(images: readonly CatalogImage[], hubs: DockerHubs): Promise<PlannedPush[]> {
  const work = images.flatMap((image) => image.tags.map((tag) => ({ image, tag, local: `${image.repository}:${tag}` })))
  const remotes = work.map(({ image, tag }) => hubReference(image, hubOf(image, hubs), tag))
  const built = await inspectImages(work.map((w) => w.local))
  return work.map(({ image, local }, i) => {
    const planned = { local, remote: remotes[i]!, visibility: image.visibility }
    return built.has(local) ? { ...planned, action: 'push' as const } : { ...planned, action: 'fail' as const, detail: notBuilt(local) }
  })
}

/** Push every tag of every image to its hub, `jobs` at once; failures are collected, not thrown. */
export async function publishImages(images: readonly CatalogImage[], hubs: DockerHubs, options: { jobs: number; signal?: AbortSignal }): Promise<PushOutcome[]> {
  const work = images.flatMap((image) => image.tags.map((tag) => ({ image, tag })))
  // Hubs are checked before any push, so a missing private hub stops the run up front.
  for (const { image } of work) hubOf(image, hubs)
  const outcomes: PushOutcome[] = []
  const errors = await eachLimited(work, options.jobs, async ({ image, tag }) => {
    const hub = hubOf(image, hubs)
    try {
      outcomes.push(await pushTag(image, hub, tag, options.signal))
    } catch (error) {
      ui.error(errorMessage(error))
      outcomes.push({ reference: hubReference(image, hub, tag), status: 'failed', digest: '', detail: errorMessage(error) })
    }
  })
  if (errors.length > 0) throw errors[0]
  const order = new Map(work.map(({ image, tag }, i) => [hubReference(image, hubOf(image, hubs), tag), i]))
  return outcomes.sort((a, b) => order.get(a.reference)! - order.get(b.reference)!)
}

export interface PullOutcome {
  reference: string
  status: 'updated' | 'unchanged' | 'failed'
  detail: string
}

/** Pull each image's built tag from its hub and tag it locally under all its tags. */
export async function updateImages(images: readonly CatalogImage[], hubs: DockerHubs, options: { jobs: number; signal?: AbortSignal }): Promise<PullOutcome[]> {
  const outcomes = new Map<CatalogImage, PullOutcome>()
  await eachLimited(images, options.jobs, async (image) => {
    const tag = image.tags.at(-1)!
    let remote = image.reference
    try {
      const hub = hubOf(image, hubs)
      remote = hubReference(image, hub, tag)
      const before = (await inspectImages([image.reference])).get(image.reference)
      const outcome = await ui.step(
        `pull ${remote}`,
        async () => {
          const pulled = await pullImage(remote, options.signal)
          if (!pulled.ok) {
            const refused = refusedPattern.test(pulled.message)
            throw new UserError(refused ? `pull from ${hub.registry} refused: not logged in or not allowed (run: docker login ${hub.registry})` : `docker pull ${remote} failed: ${pulled.message}`)
          }
          const after = (await inspectImages([remote])).get(remote)!
          for (const t of image.tags) await docker(['tag', after.Id, `${image.repository}:${t}`])
          const changed = before?.Id !== after.Id
          if (before && changed) await removeUntagged([before.Id])
          return { reference: remote, status: changed ? ('updated' as const) : ('unchanged' as const), detail: changed ? `${before ? shortId(before.Id) : 'absent'} -> ${shortId(after.Id)}` : shortId(after.Id) }
        },
        (o) => `${o.reference} ${o.status} (${o.detail})`,
      )
      outcomes.set(image, outcome)
    } catch (error) {
      ui.error(errorMessage(error))
      outcomes.set(image, { reference: remote, status: 'failed', detail: errorMessage(error) })
    }
  })
  return images.map((image) => outcomes.get(image)!)
}
