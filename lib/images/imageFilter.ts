// Image name filters as the original wrote them: comma-separated shell wildcards (fnmatch:
// `*`, `?`, `[...]`) matched against the whole `<namespace>/<name>:<tag>`.
import { UsageError, UserError } from '../util/errors.js'

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

/** `option`: the option the text came from, named when a wildcard is malformed (`[z-a]`). */
export function imageFilter(text: string, option = 'image_names'): ImageFilter {
  const patterns = text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)
    .map((pattern) => {
      try {
        return wildcardToRegExp(pattern)
      } catch (error) {
        // "Invalid regular expression: /^[z-a]$/: Range out of order in character class"
        const reason = (error as Error).message.split(': ').at(-1)!.toLowerCase()
        throw new UsageError(`${option}=${text}: invalid wildcard "${pattern}": ${reason}`)
      }
    })
  return { text, matches: (fullName) => patterns.some((p) => p.test(fullName)) }
}

/**
 * The original's message and exit code when a filter selects nothing, followed by where it
 * looked (`where`: " in the image definitions of ...", " among the local docker images"):
 * a mistyped imageSearchPath otherwise looks like a mistyped filter.
 */
export function noMatch(filter: ImageFilter, where: string): UserError {
  return new UserError(`No image match filter "${filter.text}"${where}`)
}
