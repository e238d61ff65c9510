// Credentials in an http(s) component URL (`https://user:TOKEN@host/x.git`) reach git through
// its environment only. A URL on git's command line is readable by every user of the machine
// (ps, /proc/<pid>/cmdline) for as long as git and its remote helper run, and `clone --mirror`
// or `remote set-url` would store it in the mirror's config. So git gets the URL without its
// credentials, and a credential helper (given with `-c`: its text holds no secret) prints
// them from environment variables of that git process alone (/proc/<pid>/environ is readable
// by its owner only). The helper list is reset first, so that the URL's credentials win over
// a helper of the user's as they did when they were in the URL. Other schemes (ssh://, file://,
// scp-like) go to git unchanged: git's credential helpers are for its http transport only.

import { UserError } from '../util/errors.js'
import { isHttp, userinfoOf } from '../util/redact.js'
import { printable } from '../util/ui.js'

export interface GitCredentials {
  username: string
  password: string
}

export interface GitRemote {
  /** The URL as git is given it: without credentials for http(s). */
  url: string
  credentials?: GitCredentials
}

/** The names of the environment variables the helper reads. */
export const credentialVariables = { username: 'CASA_GIT_USERNAME', password: 'CASA_GIT_PASSWORD' } as const

// Runs in sh: `printf` is a builtin, so the secret is in no command line here either.
export const credentialHelper = `!f() { test "$1" = get || return 0; printf 'username=%s\\npassword=%s\\n' "$${credentialVariables.username}" "$${credentialVariables.password}"; }; f`

/** `git -c` options that make git ask the helper above, and only it, for credentials. */
export const credentialOptions: readonly string[] = ['-c', 'credential.helper=', '-c', `credential.helper=${credentialHelper}`]

/**
 * %XX decoded as git decodes a URL's user name and password: a % not followed by two hex
 * digits is kept as written, and the escapes around it are still decoded (decoding the whole
 * text at once would keep all of `50%off%40home` as written, a password git never sends).
 * A run of escapes that is not UTF-8 is kept as written too: an environment variable holds text.
 */
function percentDecoded(text: string): string {
  return text.replace(/(?:%[0-9a-f]{2})+/gi, (escapes) => {
    try {
      return decodeURIComponent(escapes)
    } catch {
      return escapes
    }
  })
}

/** The URL git is given and the decoded credentials, before any check. */
function split(url: string): GitRemote {
  const found = userinfoOf(url)
  if (!found || !isHttp(found.scheme)) return { url }
  const { scheme, userinfo, rest } = found
  const colon = userinfo.indexOf(':')
  const credentials = {
    username: percentDecoded(colon < 0 ? userinfo : userinfo.slice(0, colon)),
    // A token given as the user name (`https://TOKEN@host`) goes with an empty password, as forges take it.
    password: colon < 0 ? '' : percentDecoded(userinfo.slice(colon + 1)),
  }
  return { url: `${scheme}://${rest}`, credentials }
}

/**
 * Why the credentials of `url`, once percent-decoded, cannot be handed to git, or undefined.
 * git's credential protocol is line based (a line break ends the password and starts another
 * attribute; git refuses a carriage return), no environment variable can hold a NUL (Node's
 * error then quotes the value), and no user name or password holds other control characters.
 * The message masks the whole userinfo: the URL's own text would show the secret.
 */
export function credentialProblem(url: string): string | undefined {
  return problemOf(split(url))
}

function problemOf({ url: bare, credentials }: GitRemote): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (!credentials || !/[\u0000-\u001f\u007f]/.test(credentials.username + credentials.password)) return undefined
  const masked = bare.replace(/^([a-z][a-z0-9+.-]*:\/\/)/i, '$1***@')
  return `the user name or password of ${JSON.stringify(printable(masked))} holds a control character once percent-decoded (%00 to %1F, %7F): git cannot be given it`
}

/**
 * Split an http(s) URL into the URL git is given and the credentials it gets from its
 * environment. Credentials that git cannot be given are refused here too (the config and the
 * plan are checked with credentialProblem when read): nothing reaches git with them.
 */
export function gitRemote(url: string): GitRemote {
  const remote = split(url)
  const problem = problemOf(remote)
  if (problem) throw new UserError(problem)
  return remote
}

/**
 * Whether `url` holds credentials gitRemote() would take out, without judging them: a URL
 * stored by an older version (a mirror's config) is only to be rewritten, whatever they are.
 */
export function hasCredentials(url: string): boolean {
  return split(url).credentials !== undefined
}

/** The git options and environment variables that hand `remote`'s credentials to one git process. */
export function credentialArgs(remote: GitRemote): { options: readonly string[]; env: Record<string, string> } {
  if (!remote.credentials) return { options: [], env: {} }
  return { options: credentialOptions, env: { [credentialVariables.username]: remote.credentials.username, [credentialVariables.password]: remote.credentials.password } }
}
