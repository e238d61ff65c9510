// Bounds on the YAML files we read (image definitions, release plans, decisions): a size above
// which a file is refused in one line, and duplicate keys found in time linear in the file. The
// yaml library's own uniqueKeys check compares every key with every other of its mapping: a
// mapping of 100,000 keys took 72 s, 10,000 about 10 s here.
import { isMap, isScalar, visit, type Document, type Node } from 'yaml'
import { UserError } from './errors.js'

/** 4 MiB: a definition is a few hundred bytes, a plan of a thousand components about 1 MB. */
export const maxYamlBytes = 4 * 1024 * 1024

/** Refuse a YAML text larger than the bound, naming the file. */
export function checkYamlSize(text: string, file: string): void {
  const bytes = Buffer.byteLength(text)
  if (bytes > maxYamlBytes) throw new UserError(`${file}: ${(bytes / 1024 / 1024).toFixed(1)} MB, larger than the ${maxYamlBytes / 1024 / 1024} MB a YAML file may hold here`)
}

/** Parse options for parseDocument: the uniqueness check is duplicateKey()'s, linear. */
export const yamlParseOptions = { uniqueKeys: false, prettyErrors: false } as const

/** The first key that appears twice in one mapping of `doc` (compared by its scalar value), with its node. */
export function duplicateKey(doc: Document): { key: string; node: Node } | undefined {
  let found: { key: string; node: Node } | undefined
  visit(doc, {
    Map(_, map) {
      const seen = new Set<unknown>()
      for (const pair of map.items) {
        const key = pair.key
        const value = isScalar(key) ? key.value : key
        if (!isScalar(key) && !isMap(key)) continue
        if (isScalar(key) && seen.has(value)) {
          found = { key: String(value), node: key as Node }
          return visit.BREAK
        }
        seen.add(value)
      }
      return undefined
    },
  })
  return found
}
