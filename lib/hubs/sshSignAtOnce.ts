// Public-key authentication in one round trip instead of two. ssh2 first asks the server
// whether it would take the key (a publickey request without a signature), and signs only
// after the yes: one more round trip of the handshake, 40 ms to a far-away hub, for a key we
// offer anyway. RFC 4252 section 7 lets a client send the signature directly; it covers the
// session identifier, so it is worth nothing outside this connection. ssh2 has no option
// for it: the authPK of its protocol object (not public API) is wrapped so that a request for
// a private key comes signed. Where that object is not as expected (another ssh2), nothing
// changes: ssh2 asks first, as before. Agent keys are left to ssh2 (the agent signs them).
import type { Client } from 'ssh2'

interface ParsedKey {
  isPrivateKey?: () => boolean
  sign?: (data: Buffer, hash?: string) => Buffer | Error
}
type Sign = (data: Buffer, done: (signature: Buffer) => void) => void
type AuthPK = (this: unknown, username: string, key: ParsedKey, keyAlgo?: string | Sign, sign?: Sign) => void

/** The hash of a signature algorithm, as ssh2 pairs them (none for ed25519 and ECDSA keys). */
function hashOf(keyAlgo: string | undefined): string | undefined {
  return { 'rsa-sha2-256': 'sha256', 'rsa-sha2-512': 'sha512', 'ssh-rsa': 'sha1' }[keyAlgo ?? '']
}

/** Call right after client.connect(): ssh2's protocol object exists from then on. */
export function signAtOnce(client: Client): void {
  const protocol = (client as unknown as { _protocol?: { authPK?: AuthPK } })._protocol
  const authPK = protocol?.authPK
  if (!protocol || typeof authPK !== 'function') return
  protocol.authPK = function (username, key, keyAlgo, sign) {
    if (sign || typeof keyAlgo === 'function' || typeof key?.sign !== 'function' || !key.isPrivateKey?.()) return authPK.call(this, username, key, keyAlgo, sign)
    authPK.call(this, username, key, keyAlgo, (data, done) => {
      const signature = key.sign!(data, hashOf(keyAlgo))
      // cannot sign here: ask first after all, and ssh2 reports the failure after the yes
      if (signature instanceof Error) return authPK.call(this, username, key, keyAlgo)
      done(signature)
    })
  }
}
