// Image name filters as the original wrote them: comma-separated shell wildcards (fnmatch:
// `*`, `?`, `[...]`) matched against the whole `<namespace>/<name>:<tag>`.
import { UserError } from './errors.js'

export interface ImageFilter {
  readonly text: string
  matches(fullName: string): boolean
}

function wildcardToRegExp(pattern: string): RegExp {
  let source = ''
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '*') source += '.*'
    else if (c === '?') source += '.'
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2)
      if (end === -1) source += '\\['
      else {
        const body = pattern.slice(i + 1, end)
        source += `[${body.startsWith('!') ? `^${body.slice(1)}` : body.replace(/\\/g, '\\\\')}]`
        i = end
      }
    } else source += c.replace(/[.+^${}()|\\/]/g, '\\$&')
  }
  return new RegExp(`^${source}$`)
}

export function imageFilter(text: string): ImageFilter {
  const patterns = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map(wildcardToRegExp)
  return { text, matches: (fullName) => patterns.some((p) => p.test(fullName)) }
}

/** The original's message and exit code when a filter selects nothing. */
export function noMatch(filter: ImageFilter): UserError {
  return new UserError(`No image match filter "${filter.text}"`)
}
