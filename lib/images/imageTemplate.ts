// The original's templates: `%(name)s` placeholders (Python %-format style) in image names,
// tags and `*.template` files, replaced again and again until the text is stable, so a
// parameter may be written in terms of others (`base_image: '%(mirror)subuntu:%(version)s'`).
import { UserError } from '../util/errors.js'
import { didYouMean } from '../util/suggest.js'

const placeholder = /%\((\w+)\)s/g
/** More rounds than this means parameters refer to each other in a loop. */
const maxRounds = 20

/**
 * Replace every `%(name)s` of `text` with its parameter until nothing changes. An unknown
 * parameter is an error naming it and `where` (file and line when known).
 */
export function applyTemplate(text: string, parameters: Readonly<Record<string, string>>, where: string): string {
  let current = text
  for (let round = 0; round < maxRounds; round++) {
    if (!current.includes('%(')) return current
    let changed = false
    const next = current.replace(placeholder, (_, name: string, offset: number) => {
      const value = parameters[name]
      if (value === undefined) {
        const line = lineAt(current, offset, round === 0)
        throw new UserError(`${where}${line}: unknown template parameter "${name}"${didYouMean(name, Object.keys(parameters))}`)
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
