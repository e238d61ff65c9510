import t from 'tap'
import { parseWords } from '../lib/cli/options.js'
import { UsageError } from '../lib/util/errors.js'

const specs = {
  image_names: { type: 'string', default: '*', help: 'filter' },
  force: { type: 'boolean', help: 'rebuild' },
  jobs: { type: 'number', default: 1, help: 'parallel' },
  compressor: { type: 'string', default: 'gzip', choices: ['gzip', 'zstd'], help: 'c' },
  file: { type: 'string', help: 'f', positional: true },
} as const

t.test('the original key=value words', async (t) => {
  const { options } = parseWords('create_docker', specs, ['image_names=cati/*', 'force=1', 'jobs=3'])
  t.same(options, { image_names: 'cati/*', force: true, jobs: 3, compressor: 'gzip' })
})

t.test('dashed spellings, with dashes or underscores', async (t) => {
  t.same(parseWords('x', specs, ['--image-names', 'a,b', '--force']).options.image_names, 'a,b')
  t.same(parseWords('x', specs, ['--image_names=c', '--jobs=2']).options, { image_names: 'c', force: false, jobs: 2, compressor: 'gzip' })
  t.equal(parseWords('x', specs, ['--no-force']).options.force, false)
  t.equal(parseWords('x', specs, ['force=yes']).options.force, true)
  t.equal(parseWords('x', specs, ['--force=0']).options.force, false)
})

t.test('defaults when nothing is given', async (t) => {
  t.same(parseWords('x', specs, []).options, { image_names: '*', force: false, jobs: 1, compressor: 'gzip' })
})

t.test('global options anywhere', async (t) => {
  const { globals, options } = parseWords('x', specs, ['-v', 'force=1', '-r', '/repo', '--config', 'c.ts'])
  t.same(globals, { repository: '/repo', verbose: true, config: 'c.ts', help: false, version: false })
  t.equal(options.force, true)
  t.equal(parseWords('x', specs, ['repository=/r']).globals.repository, '/r')
  // given twice with two values, one would be dropped silently: a usage error naming it
  t.throws(() => parseWords('x', specs, ['-r', '/a', '--config', 'a.ts', '-r', '/b']), { constructor: UsageError, message: 'x: repository given twice with different values: "/a" and "/b"' })
  t.throws(() => parseWords('x', specs, ['--config', 'a.ts', '--config=b.ts']), { constructor: UsageError, message: 'x: config given twice with different values: "a.ts" and "b.ts"' })
  const same = parseWords('x', specs, ['-r', '/a', '--repository', '/a']).globals
  t.equal(same.repository, '/a', 'the same value twice is fine')
})

t.test('positional words go to the positional option', async (t) => {
  t.equal(parseWords('x', specs, ['image.sif']).options.file, 'image.sif')
  // one value: more words are a mistake, not a file name holding spaces
  t.throws(() => parseWords('x', specs, ['x', 'y.sif']), { constructor: UsageError, message: 'x: one file expected, got 2 words: "x" "y.sif" (quote a value holding spaces)' })
  t.throws(() => parseWords('x', specs, ['a.sif', 'file=b.sif']), { constructor: UsageError, message: 'x: file given twice: as file= (or --file) and as the word "a.sif"' })
  // a comma-separated list: words are its items
  const list = { image_names: { type: 'string', default: '*', positional: 'list', help: 'filters' } } as const
  t.equal(parseWords('list_images', list, ['cati/*', 'casa/*:5.3']).options.image_names, 'cati/*,casa/*:5.3')
  t.equal(parseWords('list_images', list, ['cati/*']).options.image_names, 'cati/*')
})

t.test('mistakes are usage errors naming the closest option', async (t) => {
  t.throws(() => parseWords('x', specs, ['image_name=*']), { constructor: UsageError, message: /unknown option image_name \(did you mean "image_names"\?\)/ })
  t.throws(() => parseWords('x', specs, ['--forse']), { message: /unknown option --forse \(did you mean "force"\?\)/ })
  t.throws(() => parseWords('x', specs, ['jobs=many']), { message: /jobs=many: expected a number/ })
  t.throws(() => parseWords('x', specs, ['force=maybe']), { message: /force=maybe: expected 1 or 0/ })
  t.throws(() => parseWords('x', specs, ['compressor=zstdd']), { message: /expected one of gzip, zstd \(did you mean "zstd"\?\)/ })
  t.throws(() => parseWords('x', { a: { type: 'string', help: '' } }, ['stray']), { message: /unexpected argument "stray"/ })
})

t.test('a string option given with no value is an error, not an empty filter', async (t) => {
  const components = { components: { type: 'string', positional: true, help: 'wildcards; all when not given' }, dry_run: { type: 'boolean', help: '' } } as const
  t.throws(() => parseWords('apply_release_plan', components, ['--components', '--dry-run']), { constructor: UsageError, message: 'apply_release_plan: --components needs a value' }, 'followed by another option')
  t.throws(() => parseWords('apply_release_plan', components, ['--components']), { message: 'apply_release_plan: --components needs a value' }, 'last word')
  t.throws(() => parseWords('apply_release_plan', components, ['--components=']), { message: 'apply_release_plan: --components= needs a value' })
  t.throws(() => parseWords('apply_release_plan', components, ['components=']), { message: 'apply_release_plan: components= needs a value' })
  t.throws(() => parseWords('x', specs, ['--image-names']), { message: 'x: --image-names needs a value' }, 'an option with a default too')
  t.throws(() => parseWords('x', specs, ['-r']), { message: 'x: --repository needs a value' })
  t.throws(() => parseWords('x', specs, ['--config', '--force']), { message: 'x: --config needs a value' })
  t.throws(() => parseWords('x', specs, ['config=']), { message: 'x: config= needs a value' })
  t.equal(parseWords('apply_release_plan', components, []).options.components, undefined, 'not given: all')
})

t.test('an unknown option is echoed as typed', async (t) => {
  t.throws(() => parseWords('x', specs, ['--ignore-warnings']), { message: /^x: unknown option --ignore-warnings( |$)/ })
  t.throws(() => parseWords('x', specs, ['ignore-warnings=1']), { message: /^x: unknown option ignore-warnings( |$)/ })
  t.throws(() => parseWords('x', specs, ['--ignore-warnings=1']), { message: /^x: unknown option --ignore-warnings( |$)/ })
  t.throws(() => parseWords('x', specs, ['--image-name', 'a']), { message: 'x: unknown option --image-name (did you mean "image_names"?)' })
})
