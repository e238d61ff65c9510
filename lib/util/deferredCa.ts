// NODE_EXTRA_CA_CERTS, trusted without its start-up cost. Node reads the file before any
// JavaScript runs: it sets OpenSSL up and parses every certificate, about 50 ms for a system
// bundle of 140 on the test machines, paid by every command, though most make no TLS connection
// in this process (docker, git and ssh are programs of their own). The launcher
// (bin/casa_distro_admin.js) moves the variable aside to CASA_DEFERRED_CA_CERTS before node
// starts. Here it is put back for the programs we start, and the certificates join node's trust
// before this process's first TLS connection: our registry client and fetch call
// trustDeferredCaCertificates(), and a config or site task whose code may connect
// (mayUseTls) is loaded after it. The rule is node's: they extend the bundled roots wherever a
// TLS context is made without a `ca` of its own.
import { readFileSync } from 'node:fs'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import type { SecureContext, SecureContextOptions } from 'node:tls'
import { ui } from './ui.js'

const deferredVariable = 'CASA_DEFERRED_CA_CERTS'
let deferredFile: string | undefined
let trusted = false

/**
 * At start-up, before anything is spawned: NODE_EXTRA_CA_CERTS back as the user set it, and
 * its file remembered when node started without it.
 */
export function restoreDeferredCaCertificates(env: NodeJS.ProcessEnv = process.env): void {
  const file = env[deferredVariable]
  if (file === undefined) return
  delete env[deferredVariable]
  // node read a NODE_EXTRA_CA_CERTS of its own: nothing was deferred
  if (env.NODE_EXTRA_CA_CERTS) return
  env.NODE_EXTRA_CA_CERTS = file
  if (file) deferredFile = file
}

/** Whether bundled user code (a config, a site task) may open a TLS connection when it runs. */
export function mayUseTls(code: string): boolean {
  return /\bfetch\s*\(|["'](?:node:)?(?:https|tls|http2)["']|["']undici["']|\bWebSocket\b|\bEventSource\b/.test(code)
}

// What createSecureContext reads to shape a context: a call giving none of them gets the one
// shared context (the certificates parsed once, as node's own store); one giving some gets
// its own, with the certificates as its `ca`.
const contextKeys = [
  'ca', 'cert', 'key', 'pfx', 'passphrase', 'ciphers', 'ecdhCurve', 'dhparam', 'secureOptions', 'secureProtocol',
  'sessionIdContext', 'ticketKeys', 'sessionTimeout', 'crl', 'clientCertEngine', 'privateKeyEngine',
  'privateKeyIdentifier', 'honorCipherOrder', 'minVersion', 'maxVersion', 'sigalgs',
] as const

/** The deferred certificates trusted from now on, in this process (once; a no-op when none were deferred). */
export function trustDeferredCaCertificates(): void {
  if (!deferredFile || trusted) return
  trusted = true
  const tls = createRequire(import.meta.url)('node:tls') as typeof import('node:tls')
  const original = tls.createSecureContext
  let ca: string[]
  let shared: SecureContext
  try {
    ca = [...tls.rootCertificates, readFileSync(deferredFile, 'utf8')]
    shared = original({ ca })
  } catch (error) {
    // node's own words when it cannot use the file at start-up; the bundled roots still apply
    process.emitWarning(`Ignoring extra certs from \`${deferredFile}\`, load failed: ${(error as Error).message}`)
    return
  }
  // Node's TLS clients (https, undici and fetch, tls.connect) make their context through this
  // export, looked up at call time.
  tls.createSecureContext = (options?: SecureContextOptions): SecureContext => {
    if (options?.ca !== undefined) return original(options)
    const record = (options ?? {}) as Record<string, unknown>
    return contextKeys.every((key) => record[key] === undefined) ? shared : original({ ...options, ca })
  }
  syncBuiltinESMExports() // `import { createSecureContext } from 'node:tls'` sees it too
  ui.debug(`NODE_EXTRA_CA_CERTS ${deferredFile}: trusted from the first TLS connection on (the launcher deferred it)`)
}
