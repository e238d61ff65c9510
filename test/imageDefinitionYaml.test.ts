// Unquoted numbers in a definition file keep the text as written: `5.10` is a version, not 5.1.
import t from 'tap'
import { parseDefinition } from '../lib/images/imageDefinitionYaml.js'

t.test('tags and template parameters that YAML reads as numbers keep their source text', async (t) => {
  const spec = parseDefinition('image_sources:\n  - name: x\n    tags: [5.10, 1e3, 0x10, 007, "5.10", v1, true]\n    template_files_parameters: { ver: 5.10, n: 2 }\n', 'd.yaml')
  t.same(spec.imageSources[0]!.tags, ['5.10', '1e3', '0x10', '007', '5.10', 'v1', 'true'])
  t.same(spec.imageSources[0]!.templateParameters, { ver: '5.10', n: '2' })
})
