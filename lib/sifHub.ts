// Opening the server hub of publish_singularity through lib/transport (sftp:// and
// file:// hubs with atomic puts), built by the publishing work (issue 5). Until that module
// is part of the build, publishing to a server hub says so in one line.
import { UserError } from './errors.js'
import type { ServerHub } from './sifPublish.js'

export async function openServerHub(url: string, ssh: { identityFile?: string; knownHosts?: string }): Promise<ServerHub> {
  const specifier = './transport.js'
  let transport: { openHub?: (url: string, ssh: unknown) => Promise<ServerHub> | ServerHub }
  try {
    transport = (await import(specifier)) as typeof transport
  } catch {
    throw new UserError(`publishing to ${url.split(':')[0]}:// hubs needs lib/transport, which this build does not have yet; oras:// hubs work`)
  }
  if (!transport.openHub) throw new UserError('lib/transport has no openHub')
  return transport.openHub(url, ssh)
}
