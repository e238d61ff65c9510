// The validation of one `casa_distro_docker.yaml` text: every mistake is one line naming the
// file and the line (YAML syntax, missing `image_sources`, tags not a list, unknown
// visibility, unknown keys with the closest known one). Loaded only when a definition is not
// in the cache of imageDefinitionFile.ts: the YAML library alone costs about 45 ms to load.
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml'
import { UserError } from '../util/errors.js'
import { checkYamlSize, duplicateKey, yamlParseOptions } from '../util/yamlBounds.js'
import { visibilities, type DefinitionSpec, type Visibility } from './imageDefinition.js'
import { didYouMean } from '../util/suggest.js'

const topKeys = ['dependencies', 'image_sources']
const sourceKeys = ['name', 'tags', 'visibility', 'template_files_parameters']

/** Validate the text of a definition file; `file` names it in errors. */
export function parseDefinition(text: string, file: string): DefinitionSpec {
  checkYamlSize(text, file)
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, ...yamlParseOptions })
  const firstError = doc.errors[0]
  if (firstError) {
    const line = firstError.linePos?.[0]?.line ?? lineCounter.linePos(firstError.pos[0]).line
    throw new UserError(`${file}:${line}: invalid YAML: ${firstError.message.split('\n')[0]}`)
  }
  const lineOf = (node: Node | null | undefined): number => (node?.range ? lineCounter.linePos(node.range[0]).line : 1)
  const twice = duplicateKey(doc)
  if (twice) throw new UserError(`${file}:${lineOf(twice.node)}: invalid YAML: Map keys must be unique ("${twice.key}" appears twice)`)
  const fail = (node: Node | null | undefined, message: string): never => {
    throw new UserError(`${file}:${lineOf(node)}: ${message}`)
  }
  const root = (doc as Document.Parsed).contents
  if (!isMap(root)) return fail(root, `expected a mapping with image_sources, got ${describe(root)}`)
  checkKeys(root, topKeys, '', fail)

  const dependencies: DefinitionSpec['dependencies'] = []
  const depsNode = root.get('dependencies', true) as Node | undefined
  if (depsNode !== undefined && !(isScalar(depsNode) && depsNode.value === null)) {
    if (!isSeq(depsNode)) fail(depsNode, `dependencies: expected a list of directories, got ${describe(depsNode)}`)
    for (const item of (depsNode as { items: Node[] }).items) {
      if (!isScalar(item) || typeof item.value !== 'string' || !item.value) fail(item, `dependencies: expected a directory path, got ${describe(item)}`)
      dependencies.push({ path: (item as { value: string }).value, line: lineOf(item) })
    }
  }

  const sourcesNode = root.get('image_sources', true) as Node | undefined
  if (sourcesNode === undefined) fail(root, 'missing image_sources (a list of images with name, tags and visibility)')
  if (!isSeq(sourcesNode) || sourcesNode.items.length === 0) fail(sourcesNode, `image_sources: expected a non-empty list, got ${describe(sourcesNode)}`)
  const imageSources = (sourcesNode as { items: Node[] }).items.map((node, i) => {
    const where = `image_sources[${i}]`
    if (!isMap(node)) return fail(node, `${where}: expected a mapping with name and tags, got ${describe(node)}`)
    checkKeys(node, sourceKeys, `${where}.`, fail)
    const nameNode = node.get('name', true) as Node | undefined
    if (nameNode === undefined) fail(node, `${where}: missing name`)
    if (!isScalar(nameNode) || typeof nameNode.value !== 'string' || !nameNode.value) fail(nameNode, `${where}.name: expected a string, got ${describe(nameNode)}`)
    const tagsNode = node.get('tags', true) as Node | undefined
    if (tagsNode === undefined) fail(node, `${where}: missing tags`)
    if (!isSeq(tagsNode) || tagsNode.items.length === 0) fail(tagsNode, `${where}.tags: expected a non-empty list of tags, got ${describe(tagsNode)}`)
    const tags = (tagsNode as { items: Node[] }).items.map((tag) => {
      if (!isScalar(tag) || tag.value === null || typeof tag.value === 'object' || tag.value === '') return fail(tag, `${where}.tags: expected a tag, got ${describe(tag)}`)
      return scalarText(tag)
    })
    const visibilityNode = node.get('visibility', true) as Node | undefined
    let visibility: Visibility = 'public'
    if (visibilityNode !== undefined) {
      const value = isScalar(visibilityNode) ? visibilityNode.value : undefined
      if (!visibilities.includes(value as Visibility)) {
        fail(visibilityNode, `${where}.visibility: unknown visibility ${describe(visibilityNode)} (expected public or private)`)
      }
      visibility = value as Visibility
    }
    const templateParameters: Record<string, string> = {}
    const paramsNode = node.get('template_files_parameters', true) as Node | undefined
    if (paramsNode !== undefined && !(isScalar(paramsNode) && paramsNode.value === null)) {
      if (!isMap(paramsNode)) fail(paramsNode, `${where}.template_files_parameters: expected a mapping, got ${describe(paramsNode)}`)
      for (const pair of (paramsNode as { items: { key: unknown; value: unknown }[] }).items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : undefined
        const value = pair.value as Node | null
        if (!key || !/^\w+$/.test(key)) fail(pair.key as Node, `${where}.template_files_parameters: a parameter name must be letters, digits and _`)
        if (!isScalar(value) || value.value === null || typeof value.value === 'object') fail(value ?? (pair.key as Node), `${where}.template_files_parameters.${key}: expected a string, got ${describe(value)}`)
        templateParameters[key!] = scalarText(value as Node)
      }
    }
    return { name: (nameNode as { value: string }).value, tags, visibility, templateParameters, line: lineOf(node) }
  })
  return { dependencies, imageSources }
}

/**
 * A scalar as written: an unquoted `5.10`, `1e3` or `0x10` is a YAML number, and String() of it
 * would give 5.1, 1000 or 16; a tag or version means the text (`source` is the text before
 * resolving, set by the parser).
 */
function scalarText(node: Node): string {
  const { value, source } = node as { value: unknown; source?: string }
  return typeof value === 'string' ? value : (source ?? String(value))
}

function checkKeys(map: { items: { key: unknown }[] }, known: readonly string[], prefix: string, fail: (node: Node, message: string) => never): void {
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
    if (!known.includes(key)) fail(pair.key as Node, `unknown key ${prefix}${key}${didYouMean(key, known)}`)
  }
}

function describe(node: unknown): string {
  if (node === undefined || node === null) return 'nothing'
  if (isMap(node)) return 'a mapping'
  if (isSeq(node)) return 'a list'
  if (isScalar(node)) return node.value === null ? 'nothing' : JSON.stringify(node.value)
  return 'something else'
}
