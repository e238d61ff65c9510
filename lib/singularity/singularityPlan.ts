// Which SIF files create_singularity and publish_singularity deal with: the local docker
// images matching the filter (not `<none>`, not `latest`), their file names in the
// workflow repository, and whether each file is up to date with its docker image.
import { readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { listLocalImages } from '../docker/docker.js'
import { imageFilter, noMatch } from '../images/imageFilter.js'
import { sifFileName } from './sifConvert.js'
import { sifTruncation } from '../sif/sifReader.js'

export interface SingularityItem {
  /** `namespace/name:tag` */
  reference: string
  tag: string
  imageId: string
  /** Absolute path of the SIF file. */
  file: string
  /** The file exists whole, the .dockerid beside it equals the image id and the .md5 exists. */
  upToDate: boolean
  /** Why the existing file cannot be used ("truncated (...)"), if it cannot. */
  damage?: string
}

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim()
  } catch {
    return undefined
  }
}

export async function singularityPlan(options: { filter: string; repository: string; extension: string }): Promise<SingularityItem[]> {
  const filter = imageFilter(options.filter)
  const images = (await listLocalImages()).filter((i) => i.repository !== '<none>' && i.tag !== '<none>' && i.tag !== 'latest' && filter.matches(`${i.repository}:${i.tag}`))
  if (images.length === 0) throw noMatch(filter, ' among the local docker images (tags <none> and latest left out)')
  const items: SingularityItem[] = []
  for (const image of images) {
    const reference = `${image.repository}:${image.tag}`
    const file = join(options.repository, sifFileName(reference, options.extension))
    // The .sif itself too: a removed one with its .dockerid and .md5 left is not up to date.
    const [dockerId, md5, present] = await Promise.all([
      readTrimmed(`${file}.dockerid`),
      readTrimmed(`${file}.md5`),
      stat(file).then((s) => s.isFile(), () => false),
    ])
    // Its size too, against the one its header records: a truncated copy is not up to date.
    const damage = present ? await sifTruncation(file).catch(() => undefined) : undefined
    items.push({ reference, tag: image.tag, imageId: image.id, file, upToDate: present && !damage && dockerId === image.id && md5 !== undefined, ...(damage ? { damage } : {}) })
  }
  return items.sort((a, b) => a.reference.localeCompare(b.reference))
}
