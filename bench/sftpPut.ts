// One resumable sftp upload through our transport, as publish_singularity makes it, in a
// process of its own (the bench's proxy runs in the bench's process): `node sftpPut.js URL KEY
// KNOWN_HOSTS FILE REMOTE_NAME MD5`.
import { openHub } from '../lib/hubs/transport.js'

const [url, identityFile, knownHosts, file, remote, md5] = process.argv.slice(2)
if (!md5) {
  console.error('usage: sftpPut URL KEY KNOWN_HOSTS FILE REMOTE_NAME MD5')
  process.exit(2)
}
const hub = await openHub(url!, { identityFile, knownHosts })
await hub.put(file!, remote!, { resumeMd5: md5 })
await hub.close()
