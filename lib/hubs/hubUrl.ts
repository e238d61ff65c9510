// Hub URLs: where publishing tasks upload. `sftp://user@host[:port]/path` (an absolute path on
// the server; `/~/path` is relative to the login directory, as the original's lftp used it; no
// path at all is refused) and `file:///path` (a local or mounted directory). Parsed once,
// validated with one-line errors.
import { fileURLToPath } from 'node:url'
import { UserError } from '../util/errors.js'
import { expandHome } from '../util/paths.js'
import { redact } from '../util/ui.js'

export type HubLocation =
  | { scheme: 'sftp'; user: string; host: string; port: number; root: string; display: string }
  | { scheme: 'file'; root: string; display: string }

export function parseHubUrl(url: string): HubLocation {
  // what messages echo: a password in the URL is never repeated
  const shown = redact(url)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new UserError(`invalid hub URL "${shown}": expected sftp://user@host[:port]/path or file:///path`)
  }
  if (parsed.protocol === 'file:') {
    // file://~/dir is accepted too, for symmetry with sftp://host/~/dir
    if (parsed.host !== '' && parsed.host !== 'localhost' && parsed.host !== '~') {
      throw new UserError(`invalid hub URL "${shown}": a file URL takes an absolute path after three slashes, file:///path ("${parsed.host}" would be a host)`)
    }
    const root = parsed.host === '~' ? expandHome(`~${decodeURIComponent(parsed.pathname)}`) : fileURLToPath(parsed)
    return { scheme: 'file', root: root.replace(/\/+$/, '') || '/', display: url }
  }
  if (parsed.protocol === 'sftp:') {
    if (!parsed.hostname) throw new UserError(`invalid hub URL "${shown}": no host`)
    if (parsed.password) throw new UserError(`hub URL sftp://${parsed.username}@${parsed.host}/...: passwords in URLs are not supported; use a key (ssh-agent or ssh.identityFile)`)
    // No path at all is ambiguous: lftp and OpenSSH's sftp start in the login directory, the
    // sftp URI draft reads it as the root. A run would write in one or the other: not guessed.
    if (parsed.pathname === '') throw new UserError(`invalid hub URL "${shown}": no path: write ${shown}/~/ for the login directory, or an absolute path`)
    const user = decodeURIComponent(parsed.username) || process.env.USER || 'root'
    const path = decodeURIComponent(parsed.pathname)
    // `/~/x` and `/~` are relative to the login directory, where sftp starts.
    const root = path === '/~' || path === '/~/' ? '.' : path.startsWith('/~/') ? path.slice(3).replace(/\/+$/, '') : path.replace(/\/+$/, '') || '/'
    const port = parsed.port ? Number(parsed.port) : 22
    const host = parsed.hostname.replace(/^\[|\]$/g, '')
    return { scheme: 'sftp', user, host, port, root, display: `sftp://${user}@${parsed.host}${parsed.pathname}` }
  }
  throw new UserError(`unsupported hub URL "${shown}": expected sftp:// or file://`)
}
