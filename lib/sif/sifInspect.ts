// What inspect_singularity prints: the SIF objects (as `siftool list` shows them), the
// labels, the definition file and the docker image id and md5 kept beside the file; and,
// asked for sections, what `apptainer inspect` prints, read from the same objects it reads
// (the JSON.Generic `inspect-metadata.json` of pkg/inspect's shape, the Def.FILE), without
// starting a container. Files of earlier versions (JSON.Labels, no metadata object) still read.
import { readFile } from 'node:fs/promises'
import { primaryPartition, readObject, readSif, typeNames } from './sifReader.js'
import { dataTypes, sifArchName } from './sifWriter.js'
import { UserError } from '../util/errors.js'

const fsNames: Record<number, string> = { 1: 'Squashfs', 2: 'Ext3', 3: 'Archive', 4: 'Raw', 5: 'Encrypted squashfs' }
const partNames: Record<number, string> = { 1: 'System', 2: '*System', 3: 'Data', 4: 'Overlay' }
const archName = (code: string) => sifArchName(code)

const optional = (path: string) => readFile(path, 'utf8').then((t) => t.trim(), () => undefined)

/** The JSON.Labels object: a damaged one is the user's file, not our bug, so say so in one line. */
function parseLabels(path: string, text: string): Record<string, unknown> {
  let labels: unknown
  try {
    labels = JSON.parse(text)
  } catch {
    throw new UserError(`${path}: the labels object is not valid JSON`)
  }
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    throw new UserError(`${path}: the labels object is not a JSON object (got ${labels === null ? 'null' : Array.isArray(labels) ? 'an array' : `a ${typeof labels}`})`)
  }
  return labels as Record<string, unknown>
}

/** pkg/inspect's attributes, as far as a docker conversion has them (written by lib/singularity/sifMetadata.ts). */
export interface InspectAttributes {
  labels?: Record<string, string>
  environment?: Record<string, string>
  runscript?: string
  startscript?: string
  deffile?: string
  test?: string
  helpfile?: string
}

export type InspectSection = 'deffile' | 'runscript' | 'startscript' | 'environment' | 'labels'

/** The `inspect-metadata.json` object, checked to be in pkg/inspect's shape: one line naming the file otherwise. */
function parseMetadata(path: string, text: string): InspectAttributes {
  let metadata: unknown
  try {
    metadata = JSON.parse(text)
  } catch {
    throw new UserError(`${path}: the inspect-metadata.json object is not valid JSON`)
  }
  const attributes = (metadata as { data?: { attributes?: unknown } } | null)?.data?.attributes
  if (attributes === null || typeof attributes !== 'object' || Array.isArray(attributes)) {
    throw new UserError(`${path}: the inspect-metadata.json object has no data.attributes object`)
  }
  const out: InspectAttributes = {}
  for (const [key, value] of Object.entries(attributes as Record<string, unknown>)) {
    if (key === 'labels' || key === 'environment') {
      if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.values(value).some((v) => typeof v !== 'string')) {
        throw new UserError(`${path}: inspect-metadata.json: ${key} is not an object of strings`)
      }
      out[key] = value as Record<string, string>
    } else if (['runscript', 'startscript', 'deffile', 'test', 'helpfile'].includes(key)) {
      if (typeof value !== 'string') throw new UserError(`${path}: inspect-metadata.json: ${key} is not a string`)
      out[key as 'runscript'] = value
    }
  }
  return out
}

/** What Apptainer's inspect finds in a SIF without starting it: the metadata object, else (earlier files) the labels and Def.FILE objects. */
export async function inspectAttributes(path: string): Promise<{ attributes: InspectAttributes; fromMetadata: boolean }> {
  const sif = await readSif(path)
  primaryPartition(sif)
  const metadataObject = sif.descriptors.find((d) => d.type === dataTypes.genericJson && d.name === 'inspect-metadata.json')
  const deffileObject = sif.descriptors.find((d) => d.type === dataTypes.deffile)
  const deffile = deffileObject ? (await readObject(sif, deffileObject)).toString('utf8').replace(/\n+$/, '') : undefined
  if (metadataObject) {
    const attributes = parseMetadata(path, (await readObject(sif, metadataObject)).toString('utf8'))
    // Apptainer's inspect takes the deffile from the Def.FILE object.
    return { attributes: { ...attributes, ...(deffile !== undefined ? { deffile } : {}) }, fromMetadata: true }
  }
  const labelsObject = sif.descriptors.find((d) => d.type === dataTypes.labels)
  const labels = labelsObject ? parseLabels(path, (await readObject(sif, labelsObject)).toString('utf8')) : {}
  const strings = Object.fromEntries(Object.entries(labels).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]))
  return { attributes: { labels: strings, ...(deffile !== undefined ? { deffile } : {}) }, fromMetadata: false }
}

const byKey = <T>(record: Record<string, T>) => Object.keys(record).sort()

/**
 * `apptainer inspect` for the asked sections (labels alone when none): its text (deffile,
 * runscript, startscript, environment files as `=== path ===`, labels as `key: value`, in
 * that order) or its JSON (`{"data": {"attributes": ...}, "type": "container"}`).
 */
export async function apptainerInspect(path: string, sections: readonly InspectSection[], json: boolean): Promise<string> {
  const { attributes, fromMetadata } = await inspectAttributes(path)
  const wanted = new Set<InspectSection>(sections.length ? sections : ['labels'])
  const missing = [...wanted].filter((s) => s !== 'labels' && s !== 'deffile' && attributes[s] === undefined)
  if (missing.length && !fromMetadata) {
    throw new UserError(`${path} has no inspect-metadata.json object (written by an earlier version): its ${missing.join(', ')} can only be read by running it; convert the image again`)
  }
  const picked: InspectAttributes = {}
  for (const section of ['deffile', 'runscript', 'startscript', 'environment', 'labels'] as const) {
    if (wanted.has(section) && attributes[section] !== undefined) (picked as Record<string, unknown>)[section] = attributes[section]
  }
  if (json) return JSON.stringify({ data: { attributes: picked }, type: 'container' }, null, '\t')
  const lines: string[] = []
  if (picked.deffile) lines.push(picked.deffile)
  if (picked.runscript) lines.push(picked.runscript)
  if (picked.startscript) lines.push(picked.startscript)
  for (const file of byKey(picked.environment ?? {})) lines.push(`=== ${file} ===\n${picked.environment![file]!}\n`)
  for (const key of byKey(picked.labels ?? {})) lines.push(`${key}: ${picked.labels![key]}`)
  return `${lines.join('\n')}\n`
}

export async function describeSif(path: string): Promise<{ text: string; data: unknown }> {
  const sif = await readSif(path)
  primaryPartition(sif)
  const { attributes } = await inspectAttributes(path)
  const labels: Record<string, unknown> = attributes.labels ?? {}
  const deffile = attributes.deffile
  const dockerId = await optional(`${path}.dockerid`)
  const md5 = await optional(`${path}.md5`)
  const objects = sif.descriptors.map((d) => ({
    id: d.id,
    group: d.group,
    link: d.linkedId,
    start: d.offset,
    end: d.offset + d.size,
    type: d.partition ? `FS (${fsNames[d.partition.fsType] ?? d.partition.fsType}/${partNames[d.partition.partitionType] ?? d.partition.partitionType}/${archName(d.partition.arch)})` : (typeNames[d.type] ?? `0x${d.type.toString(16)}`),
    name: d.name,
  }))
  const lines = [
    `${path}: SIF ${sif.header.version}, ${archName(sif.header.arch)}, id ${sif.header.id}, created ${new Date(sif.header.createdAt * 1000).toISOString()}, ${sif.fileSize} bytes`,
    '',
    'ID   GROUP  LINK   POSITION (start-end)        TYPE',
    ...objects.map((o) => `${String(o.id).padEnd(4)} ${String(o.group || 'NONE').padEnd(6)} ${String(o.link || 'NONE').padEnd(6)} ${`${o.start}-${o.end}`.padEnd(27)} ${o.type}`),
    '',
    `docker image: ${labels['org.casa-distro.docker.image'] ?? labels['org.label-schema.usage.singularity.deffile.from'] ?? 'unknown'} (${dockerId ?? labels['org.casa-distro.docker.id'] ?? 'no .dockerid'})`,
    `md5: ${md5 ?? 'no .md5 file'}`,
    '',
    'labels:',
    ...Object.entries(labels).map(([k, v]) => `  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`),
  ]
  if (deffile) lines.push('', 'definition file:', ...deffile.trimEnd().split('\n').map((l) => `  ${l}`))
  return { text: lines.join('\n'), data: { path, header: sif.header, objects, labels, deffile, dockerId, md5 } }
}
