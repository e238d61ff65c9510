// The published image index of a server hub: images.json (for each image: file, size, md5,
// sha256, docker image and id, created, labels, signer fingerprints) and index.html (one row
// per image, the lines to copy to download and verify it), both beside the images. Each
// publish_singularity merges its images into the index already there, so images published
// earlier from another machine stay listed; an entry whose file is gone from the hub drops out.
// Both files are put atomically (temporary name, then rename on the server).
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { readFile, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import type { Hub } from '../hubs/hub.js'
import { formatBytes } from '../hubs/hub.js'
import { dataTypes } from '../sif/sifWriter.js'
import { readObject, readSif } from '../sif/sifReader.js'
import { readRaw, signatureExtra } from '../sif/sifIntegrity.js'
import { withoutCredentials } from '../util/redact.js'
import type { SingularityItem } from './singularityPlan.js'

export const INDEX_JSON = 'images.json'
export const INDEX_HTML = 'index.html'

export interface IndexEntry {
  file: string
  size: number
  md5: string
  sha256: string
  /** `namespace/name:tag` */
  image: string
  dockerId?: string
  /** When the SIF file was made (its header's creation time), ISO 8601. */
  created: string
  labels: Record<string, string>
  /** Fingerprints recorded by its Signature objects (not checked here: verify_singularity does). */
  signers: string[]
}

export interface ImageIndex {
  version: 1
  images: IndexEntry[]
}

const readTrimmed = (path: string) => readFile(path, 'utf8').then((text) => text.trim(), () => undefined)

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 22 })) hash.update(chunk as Buffer)
  return hash.digest('hex')
}

/** The entry of a local SIF file; the sha256 of `previous` is kept when its md5 is the same. */
export async function indexEntry(item: SingularityItem, previous?: IndexEntry): Promise<IndexEntry> {
  const sif = await readSif(item.file)
  const md5 = (await readTrimmed(`${item.file}.md5`)) ?? ''
  const labelsObject = sif.descriptors.find((d) => d.type === dataTypes.labels)
  let labels: Record<string, string> = {}
  if (labelsObject) {
    try {
      const parsed = JSON.parse((await readObject(sif, labelsObject)).toString('utf8')) as unknown
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) labels = Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]))
    } catch {
      // labels that are not JSON are left out of the index, not a reason to stop publishing
    }
  }
  const raw = await readRaw(sif)
  const signers = [...new Set(sif.descriptors.filter((d) => d.type === dataTypes.signature).map((d) => signatureExtra(raw.descriptors.get(d.id)!).fingerprint).filter((f): f is string => !!f))]
  return {
    file: basename(item.file),
    size: (await stat(item.file)).size,
    md5,
    sha256: previous && previous.md5 === md5 && md5 ? previous.sha256 : await sha256File(item.file),
    image: item.reference,
    dockerId: await readTrimmed(`${item.file}.dockerid`),
    created: new Date(sif.header.createdAt * 1000).toISOString(),
    labels,
    signers,
  }
}

/** The index on the hub, or an empty one (a damaged images.json is replaced, not trusted). */
export async function readIndex(hub: Hub): Promise<ImageIndex> {
  const text = await hub.readText(INDEX_JSON)
  if (text === undefined) return { version: 1, images: [] }
  try {
    const parsed = JSON.parse(text) as ImageIndex
    if (parsed?.version === 1 && Array.isArray(parsed.images)) return { version: 1, images: parsed.images.filter((e) => e && typeof e.file === 'string') }
  } catch {
    // replaced below
  }
  return { version: 1, images: [] }
}

/** `existing` with `updates` put in (by file name), without the entries whose file is not in `present`. */
export function mergeIndex(existing: ImageIndex, updates: readonly IndexEntry[], present: ReadonlySet<string>): ImageIndex {
  const byFile = new Map(existing.images.map((e) => [e.file, e]))
  for (const entry of updates) byFile.set(entry.file, entry)
  const images = [...byFile.values()].filter((e) => present.has(e.file)).sort((a, b) => a.file.localeCompare(b.file))
  return { version: 1, images }
}

/** Refresh the hub's index with the images just published (or found up to date). */
export async function updateIndex(hub: Hub, items: readonly SingularityItem[], downloadUrl: string | undefined): Promise<ImageIndex> {
  const existing = await readIndex(hub)
  const previous = new Map(existing.images.map((e) => [e.file, e]))
  const updates: IndexEntry[] = []
  for (const item of items) updates.push(await indexEntry(item, previous.get(basename(item.file))))
  const present = new Set((await hub.list('')).filter((e) => e.type === 'file').map((e) => e.path))
  const index = mergeIndex(existing, updates, present)
  await hub.putText(`${JSON.stringify(index, null, 2)}\n`, INDEX_JSON)
  await hub.putText(indexHtml(index, downloadUrl), INDEX_HTML)
  return index
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

/** The commands a user copies: download (apptainer pull from the download URL) and verify. */
export function copyLines(entry: IndexEntry, downloadUrl: string | undefined): string[] {
  // the page is public: the download URL's credentials (sent as a header by publish_singularity) stay out of it
  const url = downloadUrl ? `${withoutCredentials(downloadUrl).replace(/\/+$/, '')}/${encodeURIComponent(entry.file)}` : undefined
  return [url ? `apptainer pull ${entry.file} ${url}` : `# download ${entry.file} from this directory`, `apptainer verify ${entry.file}`]
}

/** A page with no external resource and no script: one row per image. */
export function indexHtml(index: ImageIndex, downloadUrl: string | undefined): string {
  const rows = index.images.map((entry) => {
    const signed = entry.signers.length ? entry.signers.map((f) => `<code>${escapeHtml(f)}</code>`).join('<br>') : '<span class="unsigned">not signed</span>'
    const lines = copyLines(entry, downloadUrl).map(escapeHtml).join('\n')
    return `<tr data-file="${escapeHtml(entry.file)}">
<td class="name"><a href="${escapeHtml(encodeURIComponent(entry.file))}">${escapeHtml(entry.image)}</a><br><small>${escapeHtml(entry.file)}</small></td>
<td class="size">${escapeHtml(formatBytes(entry.size))}</td>
<td class="date">${escapeHtml(entry.created.slice(0, 10))}</td>
<td class="signers">${signed}</td>
<td class="commands"><pre>${lines}</pre></td>
</tr>`
  })
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Singularity/Apptainer images</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .4em .6em; border-bottom: 1px solid #ddd; }
th { background: #f4f4f4; }
td.size, td.date { white-space: nowrap; }
pre { margin: 0; background: #f8f8f8; padding: .3em .5em; user-select: all; white-space: pre-wrap; word-break: break-all; }
.unsigned { color: #a40; }
</style>
</head>
<body>
<h1>Singularity/Apptainer images</h1>
<p>${index.images.length} image${index.images.length === 1 ? '' : 's'}; the same list as JSON: <a href="${INDEX_JSON}">${INDEX_JSON}</a>.</p>
<table>
<thead><tr><th>Image</th><th>Size</th><th>Date</th><th>Signed by</th><th>Download and verify</th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>
</body>
</html>
`
}
