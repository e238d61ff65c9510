// OpenSSH's own sftp client, to check what our transport left on the server, and a workflow
// repository whose casa.config.ts points the hubs at a test sshd.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Sshd } from './services.js'
import { startTcpProxy, type ProxyOptions } from './tcpProxy.js'
import { tempDir } from './tmp.js'

/** Run sftp batch commands as the test user; returns stdout (throws when a command fails). */
export function sftpBatch(sshd: Sshd, commands: readonly string[]): string {
  return execFileSync(
    'sftp',
    ['-q', '-i', sshd.clientKey, '-o', `UserKnownHostsFile=${sshd.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', '-o', 'IdentitiesOnly=yes', '-P', String(sshd.port), '-b', '-', `${sshd.user}@127.0.0.1`],
    { input: `${commands.join('\n')}\n`, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, SSH_AUTH_SOCK: '' } },
  )
}

export const sftpUrl = (sshd: Sshd, path: string) => `sftp://${sshd.user}@127.0.0.1:${sshd.port}${path}`

interface Teardown {
  teardown(fn: () => void | Promise<void>): void
}

/** A temporary workflow repository with a private HOME and a casa.config.ts holding `config` (JS object text). */
export function workflowRepository(t: Teardown, config: string): { dir: string; env: Record<string, string> } {
  const dir = tempDir(t, 'casa-publish-repo-')
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), `export default ${config}\n`)
  // no agent: the key comes from the config, as on a build machine
  return { dir, env: { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts'), SSH_AUTH_SOCK: '' } }
}

export const sshConfig = (sshd: Sshd) => `ssh: { identityFile: ${JSON.stringify(sshd.clientKey)}, knownHosts: ${JSON.stringify(sshd.knownHosts)} }`

/**
 * The sshd behind a test/helpers/tcpProxy.ts proxy: its URL and ssh config point at the proxy's
 * port (with a known_hosts entry for it), so that a test can hold or cut a run's connection.
 */
export async function proxiedSshd(t: Teardown, sshd: Sshd, options: Omit<ProxyOptions, 'targetPort'> = {}) {
  const proxy = await startTcpProxy({ targetPort: sshd.port, lifetimeMs: 300_000, ...options })
  t.teardown(proxy.stop)
  const knownHosts = join(tempDir(t), 'known_hosts')
  writeFileSync(knownHosts, `[127.0.0.1]:${proxy.port} ${sshd.hostKeyPublic.split(' ').slice(0, 2).join(' ')}\n`)
  return {
    proxy,
    url: (path: string) => `sftp://${sshd.user}@127.0.0.1:${proxy.port}${path}`,
    sshConfig: `ssh: { identityFile: ${JSON.stringify(sshd.clientKey)}, knownHosts: ${JSON.stringify(knownHosts)} }`,
  }
}

/** Download one file with OpenSSH's sftp and return its bytes. */
export function sftpGet(sshd: Sshd, remote: string, localDir: string): Buffer {
  const target = join(localDir, `sftp-get-${Date.now()}-${Math.random().toString(36).slice(2)}`)
  sftpBatch(sshd, [`get "${remote}" "${target}"`])
  return readFileSync(target)
}
