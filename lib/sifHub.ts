// Opening the server hub of publish_singularity through lib/transport (sftp:// and
// file:// hubs with atomic puts). Imported lazily: only server publishing loads ssh2.
import type { ServerHub } from './sifPublish.js'

export async function openServerHub(url: string, ssh: { identityFile?: string; knownHosts?: string }): Promise<ServerHub> {
  const { openHub } = await import('./transport.js')
  return openHub(url, ssh)
}
