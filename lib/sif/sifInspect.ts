// What inspect_singularity prints: the SIF objects (as `siftool list` shows them), the
// JSON labels, the definition file and the docker image id and md5 kept beside the file.
import { readFile } from 'node:fs/promises'
import { primaryPartition, readObject, readSif, typeNames } from './sifReader.js'
import { dataTypes, sifArchName } from './sifWriter.js'
import { UserError } from '../util/errors.js'

const fsNames: Record<number, string> = { 1: 'Squashfs', 2: 'Ext3', 3: 'Archive', 4: 'Raw', 5: 'Encrypted squashfs' }
const partNames: Record<number, string> = { 1: 'System', 2: '*System', 3: 'Data', 4: 'Overlay' }
const archNames = new Proxy({} as Record<string, string>, { get: (_, code: string) => sifArchName(code) })

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

export async function describeSif(path: string): Promise<{ text: string; data: unknown }> {
  const sif = await readSif(path)
  primaryPartition(sif)
  const labelsObject = sif.descriptors.find((d) => d.type === dataTypes.labels)
  const deffileObject = sif.descriptors.find((d) => d.type === dataTypes.deffile)
  const labels = labelsObject ? parseLabels(path, (await readObject(sif, labelsObject)).toString('utf8')) : {}
  const deffile = deffileObject ? (await readObject(sif, deffileObject)).toString('utf8') : undefined
  const dockerId = await optional(`${path}.dockerid`)
  const md5 = await optional(`${path}.md5`)
  const objects = sif.descriptors.map((d) => ({
    id: d.id,
    group: d.group,
    link: d.linkedId,
    start: d.offset,
    end: d.offset + d.size,
    type: d.partition ? `FS (${fsNames[d.partition.fsType] ?? d.partition.fsType}/${partNames[d.partition.partitionType] ?? d.partition.partitionType}/${archNames[d.partition.arch] ?? d.partition.arch})` : (typeNames[d.type] ?? `0x${d.type.toString(16)}`),
    name: d.name,
  }))
  const lines = [
    `${path}: SIF ${sif.header.version}, ${archNames[sif.header.arch] ?? sif.header.arch}, id ${sif.header.id}, created ${new Date(sif.header.createdAt * 1000).toISOString()}, ${sif.fileSize} bytes`,
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
