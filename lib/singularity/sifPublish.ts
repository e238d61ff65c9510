// Publishing SIF files: to a server hub (sftp:// or file://, through lib/hubs/transport) where
// downloaders check `<file>.md5` at the download URL, and to OCI registries as ORAS
// artifacts (oras://registry/namespace) for `apptainer pull oras://...`.
import { readFile } from 'node:fs/promises'
import { basename } from 'node:path'
import { fileURLToPath } from 'node:url'
import { UserError, errorMessage } from '../util/errors.js'
import { userinfoOf, withoutCredentials } from '../util/redact.js'
import { parseOrasUrl, pushSifArtifact, registryTimeoutSeconds, type OrasPushResult } from '../registry/registry.js'
import type { SingularityItem } from './singularityPlan.js'
import { trustDeferredCaCertificates } from '../util/deferredCa.js'

/** What publishing needs of a server hub (lib/hubs/transport's Hub). */
export interface ServerHub {
  put(localFile: string, remotePath: string, options?: { onProgress?: (done: number, total: number) => void; resumeMd5?: string }): Promise<void>
  close(): Promise<void>
}

/** The md5 published at the download URL, or undefined when there is none. */
export async function remoteMd5(downloadUrl: string, fileName: string): Promise<string | undefined> {
  const url = `${downloadUrl.replace(/\/+$/, '')}/${encodeURIComponent(fileName)}.md5`
  if (url.startsWith('file://')) {
    try {
      return (await readFile(fileURLToPath(url), 'utf8')).trim()
    } catch {
      return undefined
    }
  }
  // fetch refuses a URL holding credentials, and its error quotes them: they go in an
  // Authorization header, and messages name the URL without them.
  const { url: bare, authorization } = basicAuthorization(url)
  // A bound, as for registries: node's fetch can stay unsettled for ever when the server
  // drops the connection at once, and the run then ended with no word at all. A plain (ref'd)
  // timer: AbortSignal.timeout's would not keep the process alive to fire.
  const seconds = registryTimeoutSeconds()
  const bound = new AbortController()
  const timer = setTimeout(() => bound.abort(new Error(`no answer in ${seconds} s (CASA_REGISTRY_TIMEOUT)`)), Math.ceil(seconds * 1000))
  try {
    trustDeferredCaCertificates() // the launcher's NODE_EXTRA_CA_CERTS, before the first TLS connection
    // fetch follows redirects (undici 7's request() refuses the maxRedirections option)
    const response = await fetch(bare, { redirect: 'follow', headers: authorization ? { authorization } : {}, signal: bound.signal })
    if (response.status !== 200) {
      await response.body?.cancel()
      return undefined
    }
    return (await response.text()).trim()
  } catch (error) {
    throw new UserError(`cannot read ${withoutCredentials(url)}: ${errorMessage(bound.signal.aborted ? bound.signal.reason : error)}`)
  } finally {
    clearTimeout(timer)
  }
}

/** `http://user:pass@host/x` as `http://host/x` and the Basic authorization header it stood for. */
export function basicAuthorization(url: string): { url: string; authorization?: string } {
  const found = userinfoOf(url)
  if (!found) return { url }
  const colon = found.userinfo.indexOf(':')
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text)
    } catch {
      return text
    }
  }
  const user = decode(colon < 0 ? found.userinfo : found.userinfo.slice(0, colon))
  const password = colon < 0 ? '' : decode(found.userinfo.slice(colon + 1))
  return { url: `${found.scheme}://${found.rest}`, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` }
}

export async function localMd5(item: SingularityItem): Promise<string> {
  try {
    return (await readFile(`${item.file}.md5`, 'utf8')).trim()
  } catch {
    throw new UserError(`${item.file}.md5 is missing: run create_singularity ${item.reference} first`)
  }
}

export type ServerPublishResult = 'up to date' | 'uploaded'

/**
 * One image to a server hub: skipped when the download URL already serves the same md5;
 * else the image, its .dockerid and its .md5 last (each put is atomic on the server), so a
 * downloader checking the md5 never matches a partial image.
 */
export async function publishToServer(
  item: SingularityItem,
  hub: ServerHub,
  downloadUrl: string | undefined,
  onProgress?: (detail: string) => void,
): Promise<ServerPublishResult> {
  const name = basename(item.file)
  const md5 = await localMd5(item)
  if (downloadUrl && (await remoteMd5(downloadUrl, name)) === md5) return 'up to date'
  // a cut upload of the image is continued by the next run (sftp hubs), checked by this md5
  await hub.put(item.file, name, { resumeMd5: md5, onProgress: (done, total) => onProgress?.(`${Math.round(done / 1e6)} of ${Math.round(total / 1e6)} MB`) })
  await hub.put(`${item.file}.dockerid`, `${name}.dockerid`)
  await hub.put(`${item.file}.md5`, `${name}.md5`)
  return 'uploaded'
}

/** `cati/casa-dev:5.3` to `oras://host/ns` -> repository `ns/casa-dev`, tag `5.3`. */
export function orasTarget(hubUrl: string, reference: string): { host: string; repository: string; tag: string } {
  const { host, namespace } = parseOrasUrl(hubUrl)
  const colon = reference.lastIndexOf(':')
  const name = reference.slice(0, colon).split('/').pop()!
  return { host, repository: namespace ? `${namespace}/${name}` : name, tag: reference.slice(colon + 1) }
}

export async function publishToOras(item: SingularityItem, hubUrl: string): Promise<OrasPushResult> {
  await localMd5(item) // a file without .md5 is not complete
  const target = orasTarget(hubUrl, item.reference)
  return pushSifArtifact({ file: item.file, ...target, title: basename(item.file) })
}
