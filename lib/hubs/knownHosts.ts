// Checking an SSH server's host key against a known_hosts file, as OpenSSH does: plain and
// hashed (|1|salt|hash) host patterns, `[host]:port` for other ports than 22, wildcards,
// negations and @revoked lines. An unknown or changed key is refused, never added silently.
import { createHash, createHmac } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { UserError, errorMessage } from '../util/errors.js'

export interface KnownKey {
  type: string
  /** The public key blob (SSH wire format), as the server sends it. */
  blob: Buffer
  line: number
  revoked: boolean
}

/** How OpenSSH names a host in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`
}

function wildcard(pattern: string, name: string): boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i')
  return re.test(name)
}

function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt, hash] = patterns.split('|')
    if (!salt || !hash) return false
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash
  }
  let matched = false
  for (const pattern of patterns.split(',')) {
    if (pattern.startsWith('!')) {
      if (wildcard(pattern.slice(1), name)) return false
    } else if (wildcard(pattern, name)) matched = true
  }
  return matched
}

/** The keys a known_hosts file lists for `host:port` (a missing file lists none). */
export function knownKeys(file: string, host: string, port: number): KnownKey[] {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    // a directory or an unreadable file is not an empty one: the advice to append to it would mislead
    throw new UserError(`cannot read known_hosts file ${file}: ${errorMessage(error)}`)
  }
  const name = knownHostsName(host, port)
  const keys: KnownKey[] = []
  text.split('\n').forEach((raw, index) => {
    const words = raw.trim().split(/\s+/)
    if (!words[0] || words[0].startsWith('#')) return
    let marker = ''
    if (words[0].startsWith('@')) marker = words.shift()!
    if (marker === '@cert-authority') return
    const [patterns, type, base64] = words
    if (!patterns || !type || !base64 || !hostMatches(patterns, name)) return
    keys.push({ type, blob: Buffer.from(base64, 'base64'), line: index + 1, revoked: marker === '@revoked' })
  })
  return keys
}

/** The key type written in a public key blob (its first SSH string). */
export function blobType(blob: Buffer): string {
  const length = blob.readUInt32BE(0)
  return blob.subarray(4, 4 + length).toString('latin1')
}

/** `SHA256:...`, the fingerprint ssh and ssh-keygen -l print. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`
}

export type HostKeyVerdict = { ok: true } | { ok: false; reason: 'unknown' | 'changed' | 'revoked'; line?: number }

export function checkHostKey(keys: readonly KnownKey[], blob: Buffer): HostKeyVerdict {
  const same = keys.filter((k) => k.blob.equals(blob))
  if (same.some((k) => k.revoked)) return { ok: false, reason: 'revoked', line: same.find((k) => k.revoked)!.line }
  if (same.length > 0) return { ok: true }
  const live = keys.filter((k) => !k.revoked)
  if (live.length > 0) return { ok: false, reason: 'changed', line: live[0]!.line }
  return { ok: false, reason: 'unknown' }
}
