// The one rule for keeping secrets out of what the tool prints and writes: logs, `-v` echoes,
// error messages, release plan files. It applies to URLs anywhere in a text (git's own
// messages quote them) and to `--password=...`-like words.
//
// In a URL `scheme://userinfo@host/...`, the userinfo is a secret when:
// - it has a password part (`user:pass@`, any scheme): the password is masked, `user:***@`;
// - the scheme is http or https (`https://TOKEN@host`): forges take tokens as user names
//   (`https://ghp_xxx@github.com/...`), so the whole userinfo is masked, `https://***@host`,
//   and `https://x-access-token:TOKEN@host` becomes `https://x-access-token:***@host`.
// A bare user name over another scheme (`ssh://git@host/...`, `sftp://brainvisa@host/...`)
// and scp-like addresses (`git@github.com:org/repo.git`) stay readable: no secret there.
// `withoutCredentials` drops what `redact` would mask, for URLs that are kept (release plans).

// A userinfo ends at white space, " < or > (no URL holds them: the config refuses them there,
// see configSchema.gitUrlProblem), never at ', which a URL allows in a password: git quotes
// URLs between ' and ', but its closing ' comes after the host, past the @.
const userinfoAt = String.raw`([a-z][a-z0-9+.-]*):\/\/([^\s/?#@"<>]*(?:@[^\s/?#@"<>]*)*)@`
const urlUserinfo = new RegExp(String.raw`\b` + userinfoAt, 'gi')
const leadingUserinfo = new RegExp(`^${userinfoAt}`, 'i')

export const isHttp = (scheme: string): boolean => /^https?$/i.test(scheme)

/**
 * The userinfo of a URL written `scheme://userinfo@...`, found by the same rule as redact()'s
 * (so what is masked and what is taken out of a URL cannot drift apart); `rest` follows the @.
 */
export function userinfoOf(url: string): { scheme: string; userinfo: string; rest: string } | undefined {
  const match = leadingUserinfo.exec(url)
  return match ? { scheme: match[1]!, userinfo: match[2]!, rest: url.slice(match[0].length) } : undefined
}

/** Mask the credentials of every URL in `text` (see the module comment for the rule) and `--password=...` words. */
export function redact(text: string): string {
  return text
    .replace(urlUserinfo, (whole, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(':')
      if (colon >= 0) return `${scheme}://${userinfo.slice(0, colon)}:***@`
      return isHttp(scheme) ? `${scheme}://***@` : whole
    })
    .replace(/(?<![\w-])(--?(?:password|passwd|token|secret)[=\s])\S+/gi, '$1***')
}

/** `url` without the credentials redact() would mask: `https://host/x.git`, `ssh://user@host/x.git`. */
export function withoutCredentials(url: string): string {
  return url.replace(urlUserinfo, (whole, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':')
    if (isHttp(scheme)) return `${scheme}://`
    if (colon >= 0) return colon === 0 ? `${scheme}://` : `${scheme}://${userinfo.slice(0, colon)}@`
    return whole
  })
}
