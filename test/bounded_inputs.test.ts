// Bounded inputs: a template whose parameters grow the text without end is one line (it took
// 2.6 GB of memory, then a RangeError); a YAML file above the size bound is refused in one line;
// duplicate keys are found in time linear in the file (the yaml library's check compared every
// key of a mapping with every other: 100,000 keys took 72 s).
import t from 'tap'
import { parseDocument } from 'yaml'
import { UserError } from '../lib/util/errors.js'
import { applyTemplate, maxExpandedLength } from '../lib/images/imageTemplate.js'
import { parseDefinition } from '../lib/images/imageDefinitionYaml.js'
import { checkYamlSize, duplicateKey, maxYamlBytes, yamlParseOptions } from '../lib/util/yamlBounds.js'

t.test('a template that doubles at every round stops at the bound, in one line', async (t) => {
  const parameters: Record<string, string> = { p0: 'x'.repeat(1000) }
  for (let i = 1; i <= 19; i++) parameters[`p${i}`] = `%(p${i - 1})s%(p${i - 1})s`
  t.throws(() => applyTemplate('%(p19)s', parameters, 'casa_distro_docker.yaml'), {
    constructor: UserError,
    message: /^casa_distro_docker\.yaml: template parameters expand past 16 Mi characters \(at round \d+, by "p\d+"\)/,
  })
  // what stays under the bound still expands
  t.equal(applyTemplate('%(p3)s', parameters, 'x').length, 8000)
  t.equal(maxExpandedLength, 16 * 1024 * 1024)
})

t.test('a YAML file above the bound is refused in one line naming it', async (t) => {
  t.throws(() => checkYamlSize('a'.repeat(maxYamlBytes + 1), 'plan.yaml'), { constructor: UserError, message: /^plan\.yaml: 4\.0 MB, larger than the 4 MB a YAML file may hold here$/ })
  t.throws(() => parseDefinition(`image_sources: []\n#${'x'.repeat(maxYamlBytes)}\n`, 'd.yaml'), { message: /^d\.yaml: .* larger than the 4 MB/ })
})

t.test('duplicate keys, found in one pass, named with their line', async (t) => {
  const keys = Array.from({ length: 20_000 }, (_, i) => `k${i}: v`)
  const doc = parseDocument([...keys, 'k7: again'].join('\n'), yamlParseOptions)
  t.same(duplicateKey(doc)?.key, 'k7')
  t.equal(duplicateKey(parseDocument(keys.join('\n'), yamlParseOptions)), undefined, 'none')
  t.equal(duplicateKey(parseDocument('a: {x: 1, y: 2}\nb: {x: 1}\n', yamlParseOptions)), undefined, 'the same key in two mappings is fine')
  t.throws(() => parseDefinition('image_sources:\n  - name: a\n    tags: [x]\n    name: b\n', 'd.yaml'), { message: 'd.yaml:4: invalid YAML: Map keys must be unique ("name" appears twice)' })
  // 20,000 keys: parsed, then refused for the key it does not know, in one line
  t.throws(() => parseDefinition(keys.join('\n'), 'big.yaml'), { constructor: UserError, message: /^big\.yaml:1: / })
})
