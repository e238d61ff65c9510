// The original's templates: `%(name)s` placeholders (Python %-format style) in image names,
// tags and `*.template` files, replaced again and again until the text is stable, so a
// parameter may be written in terms of others (`base_image: '%(mirror)subuntu:%(version)s'`).
import { UserError } from '../util/errors.js'
import { didYouMean } from '../util/suggest.js'

const placeholder = /%\((\w+)\)s/g
/** More rounds than this means parameters refer to each other in a loop. */
const maxRounds = 20
/**
 * The longest text an expansion may make, in characters: parameters that each use another
 * twice double the text at every round (2.6 GB of memory, then a RangeError, in 20 rounds).
 * 16 Mi characters is far past any name, tag or template file.
 */
export const maxExpandedLength = 16 * 1024 * 1024

/**
 * Replace every `%(name)s` of `text` with its parameter until nothing changes. An unknown
 * parameter is an error naming it and `where` (file and line when known).
 */
export function applyTemplate(text: string, parameters: Readonly<Record<string, string>>, where: string): string {
  let current = text
  for (let round = 0; round < maxRounds; round++) {
    if (!current.includes('%(')) return current
    let changed = false
    // the length the round's result will have, counted before it is built
    let length = current.length
    const next = current.replace(placeholder, (whole: string, name: string, offset: number) => {
      const value = parameters[name]
      if (value === undefined) {
        const line = lineAt(current, offset, round === 0)
        throw new UserError(`${where}${line}: unknown template parameter "${name}"${didYouMean(name, Object.keys(parameters))}`)
      }
      length += value.length - whole.length
      if (length > maxExpandedLength) {
        throw new UserError(`${where}: template parameters expand past ${maxExpandedLength / 1024 / 1024} Mi characters (at round ${round + 1}, by "${name}"): a parameter uses others that grow the text without end`)
      }
      changed = true
      return value
    })
    if (!changed) return next
    current = next
  }
  throw new UserError(`${where}: template parameters refer to each other in a loop (still changing after ${maxRounds} rounds)`)
}

function lineAt(text: string, offset: number, original: boolean): string {
  if (!original || !text.includes('\n')) return ''
  return `:${text.slice(0, offset).split('\n').length}`
}

/** Does `text` hold any placeholder? (Files without one are copied byte for byte.) */
export function hasPlaceholders(text: string): boolean {
  return /%\(\w+\)s/.test(text)
}
