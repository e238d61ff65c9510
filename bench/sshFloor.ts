// The floor of any mirror written for Node with ssh2, as the mirror bench measures it: node
// starts, loads ssh2, connects, checks the host key, authenticates with the key, opens the
// SFTP subsystem and exits. No listing, no local walk, no upload: what is left of a 1%
// update once those are free. Run as `node sshFloor.js HOST PORT USER KEY KNOWN_HOSTS [DIR]`:
// with DIR, it also stats every file under DIR (what any mirror must do to see what changed),
// while the server answers the connection.
import { readFileSync, readdirSync, statSync } from 'node:fs'
import ssh2 from 'ssh2'

const [host, port, username, keyFile, knownHostsFile, localDir] = process.argv.slice(2)
if (!knownHostsFile) {
  console.error('usage: sshFloor HOST PORT USER KEY KNOWN_HOSTS [DIR]')
  process.exit(2)
}
const walk = (dir: string): void => {
  for (const name of readdirSync(dir)) if (statSync(`${dir}/${name}`).isDirectory()) walk(`${dir}/${name}`)
}
// the host key is compared, not trusted, as the real client does (a few microseconds)
const known = readFileSync(knownHostsFile, 'utf8')
  .split('\n')
  .map((line) => line.trim().split(/\s+/)[2])
  .filter((key): key is string => Boolean(key))
const client = new ssh2.Client()
client.on('error', (error) => {
  console.error(`sshFloor: ${error.message}`)
  process.exit(1)
})
client.on('ready', () =>
  client.sftp((error) => {
    if (error) {
      console.error(`sshFloor: ${error.message}`)
      process.exit(1)
    }
    client.end()
  }),
)
client.on('close', () => process.exit(0))
client.connect({
  host,
  port: Number(port),
  username,
  privateKey: readFileSync(keyFile!),
  hostVerifier: (key: Buffer) => known.includes(key.toString('base64')),
})
// after connect(): the server forks and sends its banner meanwhile
if (localDir) walk(localDir)
