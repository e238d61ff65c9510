// The metadata of a SIF converted from a docker image, as Apptainer's build writes it for a
// docker image (internal/pkg/build/metadata.go, sources/conveyorPacker_oci.go, pkg/inspect):
// the definition file, the labels, the `inspect-metadata.json` object `apptainer inspect`
// reads without starting a container, and the image's OCI config (`oci-config.json`).
// Everything is derived from the docker image alone (its id, its created time, its config):
// two conversions of the same image give the same bytes, whenever and wherever they run.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ImageInfo } from '../docker/docker.js'
import type { InspectAttributes } from '../sif/sifInspect.js'
import { packageRoot } from '../util/paths.js'

let version: string | undefined
/** Ours, for the label where Apptainer writes its own version. */
const ourVersion = () => (version ??= (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string }).version)

/** The image's created time in unix seconds (0 when docker gives none or an unreadable one). */
export function imageTime(image: Pick<ImageInfo, 'Created'>): number {
  const ms = Date.parse(image.Created ?? '')
  return Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0
}

/**
 * The SIF's UUID, from the image id and what else changes the bytes (the compressor): the
 * same image converted again gets the same id, another image or compressor another one.
 * Shaped as an RFC 4122 name-based UUID (version 5 bits) over a SHA-256 digest.
 */
export function sifUuid(imageId: string, compressor: string): string {
  const digest = createHash('sha256').update(`casa-distro-admin sif\0${imageId}\0${compressor}`).digest()
  digest[6] = (digest[6]! & 0x0f) | 0x50
  digest[8] = (digest[8]! & 0x3f) | 0x80
  const hex = digest.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

const weekdays = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday']
const months = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December']

/** `Tuesday_18_August_2026_9:12:45_UTC`: Apptainer's form of org.label-schema.build-date. */
export function labelSchemaDate(seconds: number): string {
  const d = new Date(seconds * 1000)
  return `${weekdays[d.getUTCDay()]}_${d.getUTCDate()}_${months[d.getUTCMonth()]}_${d.getUTCFullYear()}_${d.getUTCHours()}:${d.getUTCMinutes()}:${d.getUTCSeconds()}_UTC`
}

/** The definition file of an Apptainer build from the local engine, plus a comment (no dates). */
export function definitionFile(reference: string, image: Pick<ImageInfo, 'Id'>): string {
  return [
    'bootstrap: docker-daemon',
    `from: ${reference.replace(/\n/g, ' ')}`,
    '',
    `# Converted by casa_distro_admin create_singularity from docker image ${image.Id}`,
    "# (the image's layers streamed into tar2sqfs, /.singularity.d added; no root, no unpacked copy).",
    '',
  ].join('\n')
}

/**
 * The labels: the image's docker labels, then those Apptainer's build adds (one build date,
 * the image's created time, in both its forms), then ours. `arch` is the image's, as written
 * in the SIF header.
 */
export function sifLabels(reference: string, image: Pick<ImageInfo, 'Id' | 'Created' | 'Config'>, arch = 'unknown'): Record<string, string> {
  const time = imageTime(image)
  return {
    ...(image.Config.Labels ?? {}),
    'org.label-schema.schema-version': '1.0',
    'org.label-schema.build-date': labelSchemaDate(time),
    'org.opencontainers.image.created': new Date(time * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    'org.label-schema.usage.apptainer.version': `casa-distro-admin-${ourVersion()}`,
    'org.label-schema.usage.singularity.deffile.bootstrap': 'docker-daemon',
    'org.label-schema.usage.singularity.deffile.from': reference,
    'org.opencontainers.image.base.name': reference,
    'org.opencontainers.image.base.digest': image.Id,
    'org.opencontainers.image.architecture': arch,
    'org.label-schema.build-arch': arch,
    'org.casa-distro.docker.image': reference,
    'org.casa-distro.docker.id': image.Id,
  }
}

/** The image's OCI config as Apptainer stores it (`oci-config.json`): Go's field names, empty ones left out. */
export function ociConfig(image: Pick<ImageInfo, 'Config'>): Record<string, unknown> {
  const config = image.Config as Record<string, unknown>
  const keys = ['User', 'ExposedPorts', 'Env', 'Entrypoint', 'Cmd', 'Volumes', 'WorkingDir', 'Labels', 'StopSignal', 'ArgsEscaped', 'Healthcheck', 'OnBuild', 'Shell']
  const out: Record<string, unknown> = {}
  for (const key of keys) {
    const value = config[key]
    if (value === undefined || value === null || value === '' || value === false) continue
    if (Array.isArray(value) && value.length === 0) continue
    if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0) continue
    out[key] = value
  }
  return out
}

export interface InspectMetadata {
  data: { attributes: InspectAttributes & { apps?: Record<string, unknown> } }
  type: 'container'
}

export function inspectMetadata(parts: { labels: Record<string, string>; environment: Record<string, string>; runscript: string; startscript: string; deffile: string }): InspectMetadata {
  const trim = (text: string) => text.replace(/\n+$/, '')
  const environment = Object.fromEntries(Object.entries(parts.environment).map(([path, text]) => [path, trim(text)]))
  return {
    data: {
      attributes: {
        environment,
        labels: parts.labels,
        runscript: trim(parts.runscript),
        deffile: trim(parts.deffile),
        startscript: trim(parts.startscript),
      },
    },
    type: 'container',
  }
}
