// Hubs: the directories publishing tasks upload to, behind one interface whatever the URL
// (sftp:// through ssh2 in-process, file:// for a local or mounted directory). Every write is
// atomic: data lands under a temporary name in the same directory and is renamed into place,
// so a downloader never sees a partial file and an interrupted upload leaves the old one whole.
import { parseHubUrl } from './hubUrl.js'
import type { Hub, SshOptions } from './hub.js'

export { formatBytes, isTemporaryName, madeDirectoriesAround, temporaryName, type Hub, type HubEntry, type ListOptions, type PutOptions, type SshOptions } from './hub.js'

/** Open the hub a URL names: sftp://user@host[:port]/path or file:///path. */
export async function openHub(url: string, ssh: SshOptions = {}): Promise<Hub> {
  const location = parseHubUrl(url)
  if (location.scheme === 'file') {
    const { openFileHub } = await import('./transportFile.js')
    return openFileHub(url, location.root)
  }
  const { openSftpHub } = await import('./transportSftp.js')
  return openSftpHub(url, location, ssh)
}
