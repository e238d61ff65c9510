// The image catalog and the build plan without an engine: definition files validated with
// file:line errors, templates, dependencies across search directories, shadowing, cycles,
// names Docker would reject, and the builtin share/docker definitions planned in order.
import t, { type Test } from 'tap'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadCatalog, type CatalogOptions } from '../lib/images/imageCatalog.js'
import { definitionOrder, planBuild, gatherFacts, matchImages } from '../lib/images/buildPlan.js'
import { baseImages, contextDigest, contextFiles } from '../lib/images/buildContext.js'
import { applyTemplate } from '../lib/images/imageTemplate.js'
import { packageRoot } from '../lib/util/paths.js'
import { tempDir } from './helpers/tmp.js'

type Files = Record<string, string>

/** Write `files` (paths relative to `root`) and return root. */
function tree(root: string, files: Files): string {
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true })
    writeFileSync(join(root, path), content)
  }
  return root
}

const options = (searchPath: string[], extra: Partial<CatalogOptions> = {}): CatalogOptions => ({
  searchPath,
  namespace: 'casa-test-cat',
  templateParameters: {},
  casaVersion: '9.9.9',
  ...extra,
})

const simple = (name: string, extra = '') => `image_sources:\n  - name: ${name}\n    tags: [one, two]\n${extra}`

async function rejects(t: Test, files: Files, pattern: RegExp, extra: Partial<CatalogOptions> = {}): Promise<void> {
  const dir = tree(tempDir(t), files)
  await t.rejects(loadCatalog(options([dir], extra)), pattern)
}

t.test('definition file errors name the file and the line', async (t) => {
  await rejects(t, { 'a/s/casa_distro_docker.yaml': 'image_sources:\n  - name: x\n    tags: [a\n' }, /a\/s\/casa_distro_docker\.yaml:\d+: invalid YAML/)
  await rejects(t, { 'a/s/casa_distro_docker.yaml': 'dependencies: []\n' }, /casa_distro_docker\.yaml:1: missing image_sources/)
  await rejects(t, { 'a/s/casa_distro_docker.yaml': 'image_sources:\n  - name: x\n    tags: one\n' }, /casa_distro_docker\.yaml:3: image_sources\[0\]\.tags: expected a non-empty list/)
  await rejects(t, { 'a/s/casa_distro_docker.yaml': simple('x', '    visibility: secret\n') }, /casa_distro_docker\.yaml:4: image_sources\[0\]\.visibility: unknown visibility "secret"/)
  await rejects(t, { 'a/s/casa_distro_docker.yaml': 'image_sources:\n  - name: x\n    tagz: [a]\n' }, /casa_distro_docker\.yaml:3: unknown key image_sources\[0\]\.tagz \(did you mean "tags"\?\)/)
  await rejects(t, { 'a/s/casa_distro_docker.yaml': 'image_sources:\n  - tags: [a]\n' }, /casa_distro_docker\.yaml:2: image_sources\[0\]: missing name/)
})

t.test('names and tags Docker would reject are errors before anything runs', async (t) => {
  await rejects(t, { 'a/s/casa_distro_docker.yaml': simple('Upper') }, /casa_distro_docker\.yaml:2: "casa-test-cat\/Upper" is not a valid docker image name/)
  await rejects(t, { 'a/s/casa_distro_docker.yaml': 'image_sources:\n  - name: ok\n    tags: ["-bad"]\n' }, /casa_distro_docker\.yaml:2: "-bad" is not a valid docker tag/)
  await rejects(t, { 'a/s/casa_distro_docker.yaml': 'image_sources:\n  - name: ok\n    tags: ["%(p)s"]\n    template_files_parameters: { p: "a b" }\n' }, /"a b" is not a valid docker tag/)
})

t.test('templates: repeated until stable, unknown parameters named, config overrides', async (t) => {
  t.equal(applyTemplate('%(a)s!', { a: '%(b)s-%(b)s', b: '%(c)s', c: 'x' }, 'f'), 'x-x!')
  t.throws(() => applyTemplate('line1\nFROM %(bsae_image)s\n', { base_image: 'u' }, 'Dockerfile.template'), /Dockerfile\.template:2: unknown template parameter "bsae_image" \(did you mean "base_image"\?\)/)
  t.throws(() => applyTemplate('%(a)s', { a: '%(b)s', b: '%(a)s' }, 'f'), /refer to each other in a loop/)
  await rejects(t, { 'a/s/casa_distro_docker.yaml': simple('"%(nope)s"') }, /casa_distro_docker\.yaml:2: unknown template parameter "nope"/)

  const dir = tree(tempDir(t), {
    'img/sys/casa_distro_docker.yaml': 'image_sources:\n  - name: "%(kind)s"\n    tags: ["%(system)s-%(casa_version)s", "%(system)s"]\n    template_files_parameters: { kind: tool, greeting: "hi %(who)s", who: site }\n',
    'img/sys/Dockerfile.template': 'FROM %(base)s\nRUN echo %(greeting)s\n',
    'img/sys/run.sh': 'echo %(kept)s as is\n',
  })
  const catalog = await loadCatalog(options([dir], { templateParameters: { who: 'config', base: 'scratch-ish' } }))
  const image = catalog.images[0]!
  t.equal(image.reference, 'casa-test-cat/tool:sys')
  t.same(image.tags, ['sys-9.9.9', 'sys'])
  const files = await contextFiles(image)
  t.same(files.map((f) => f.path), ['Dockerfile', 'run.sh'], 'the YAML is not in the context, .template dropped')
  t.equal(files[0]!.content!.toString(), 'FROM scratch-ish\nRUN echo hi config\n', 'config parameters override the definition\'s')
  t.equal(files[1]!.content!.toString(), 'echo %(kept)s as is\n', 'files not named *.template are copied as they are')

  writeFileSync(join(dir, 'img/sys/Dockerfile.template'), 'FROM %(base)s\nRUN echo %(greting)s\n')
  await t.rejects(contextFiles(image), /Dockerfile\.template:2: unknown template parameter "greting" \(did you mean "greeting"\?\)/)
})

t.test('a definition without a Dockerfile is reported', async (t) => {
  const dir = tree(tempDir(t), { 'a/s/casa_distro_docker.yaml': simple('x'), 'a/s/other': '' })
  const catalog = await loadCatalog(options([dir]))
  await t.rejects(contextFiles(catalog.images[0]!), /a\/s: no Dockerfile/)
})

t.test('a Dockerfile that is a link to nothing is reported like a missing one', async (t) => {
  const dir = tree(tempDir(t), { 'a/s/casa_distro_docker.yaml': simple('x') })
  symlinkSync('missing.Dockerfile', join(dir, 'a/s/Dockerfile'))
  const catalog = await loadCatalog(options([dir]))
  await t.rejects(contextFiles(catalog.images[0]!), /a\/s: no Dockerfile: Dockerfile is a symbolic link to missing\.Dockerfile, which does not exist/)
})

t.test('a definition depending on itself is reported as such', async (t) => {
  await rejects(t, { 'a/s/casa_distro_docker.yaml': `dependencies: [.]\n${simple('x')}`, 'a/s/Dockerfile': 'FROM busybox\n' }, /casa_distro_docker\.yaml:1: dependency \. is this image definition itself/)
})

t.test('dependencies: directories, across search dirs, missing ones, cycles', async (t) => {
  const site = tree(tempDir(t), {
    'dev/s1/casa_distro_docker.yaml': `dependencies:\n  - ../../base\n${simple('dev')}`,
    'dev/s1/Dockerfile': 'FROM casa-test-cat/base:two\n',
  })
  const builtin = tree(tempDir(t), {
    'base/s1/casa_distro_docker.yaml': simple('base'),
    'base/s1/Dockerfile': 'FROM busybox\n',
    'base/s2/casa_distro_docker.yaml': simple('base2'),
    'base/s2/Dockerfile': 'FROM busybox\n',
    'dev/s1/casa_distro_docker.yaml': simple('shadowed-dev'),
  })
  const catalog = await loadCatalog(options([site, builtin]))
  t.same(catalog.shadowed.map((s) => [s.key, s.dir, s.by]), [['dev/s1', join(builtin, 'dev/s1'), join(site, 'dev/s1')]])
  t.same(catalog.byKey.get('dev/s1')!.dependencies, ['base/s1', 'base/s2'], 'a directory: every definition below it, found in another search dir')
  t.same(definitionOrder(catalog).map((d) => d.key).slice(-1), ['dev/s1'])

  await rejects(t, { 'a/s/casa_distro_docker.yaml': `dependencies:\n  - ../../nothing\n${simple('x')}` }, /casa_distro_docker\.yaml:2: dependency \.\.\/\.\.\/nothing \(.*nothing\) holds no image definition/)

  const cyclic = tree(tempDir(t), {
    'a/s/casa_distro_docker.yaml': `dependencies: [../../b/s]\n${simple('a')}`,
    'b/s/casa_distro_docker.yaml': `dependencies: [../../c/s]\n${simple('b')}`,
    'c/s/casa_distro_docker.yaml': `dependencies: [../../a/s]\n${simple('c')}`,
    'd/s/casa_distro_docker.yaml': simple('d'),
  })
  const cycleCatalog = await loadCatalog(options([cyclic]))
  t.throws(() => definitionOrder(cycleCatalog), /dependency cycle between image definitions: a\/s -> b\/s -> c\/s -> a\/s/)
})

t.test('filters: comma-separated wildcards on any tag; no match is the original message', async (t) => {
  const dir = tree(tempDir(t), { 'a/s/casa_distro_docker.yaml': simple('x'), 'b/s/casa_distro_docker.yaml': simple('y') })
  const catalog = await loadCatalog(options([dir]))
  t.same(matchImages(catalog, 'casa-test-cat/x:one').map((i) => i.reference), ['casa-test-cat/x:two'])
  t.same(matchImages(catalog, '*/y:*,*/x:t?o').map((i) => i.reference).sort(), ['casa-test-cat/x:two', 'casa-test-cat/y:two'])
  t.throws(() => matchImages(catalog, 'nothing*'), new RegExp(`^No image match filter "nothing\\*" in the image definitions of ${dir}$`), 'the original message, and where it looked')
  const missing = join(dir, 'missing')
  const two = await loadCatalog(options([missing, dir]))
  t.throws(() => matchImages(two, 'nothing*'), new RegExp(`^No image match filter "nothing\\*" in the image definitions of ${missing} \\(no such directory\\), ${dir}$`), 'every directory searched, a missing one said')
  const none = await loadCatalog(options([]))
  t.throws(() => matchImages(none, 'nothing*'), /^No image match filter "nothing\*": imageSearchPath is empty$/)
})

t.test('FROM lines: stages, scratch and ARG defaults', async (t) => {
  t.same(
    baseImages('ARG V=22.04\nFROM ubuntu:${V} AS build\nFROM build\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\nFROM --platform=linux/amd64 scratch\nFROM other/x:1\nCOPY --from=tools/y:2 /c /c\n'),
    ['ubuntu:22.04', 'other/x:1', 'tools/y:2'],
  )
})

t.test('the builtin definitions parse, template and plan in dependency order', async (t) => {
  const catalog = await loadCatalog(options([join(packageRoot, 'share', 'docker')], { namespace: 'cati', templateParameters: { docker_mirror: '' } }))
  const references = catalog.images.map((i) => i.reference).sort()
  t.same(references, ['cati/casa-dev:ubuntu-18.04', 'cati/casa-dev:ubuntu-22.04', 'cati/casa-test:ubuntu-18.04', 'cati/casa-test:ubuntu-22.04'])
  const selected = matchImages(catalog, 'cati/casa-dev:*')
  const { facts } = await gatherFacts(catalog, selected)
  const plan = await planBuild(catalog, { filter: 'cati/casa-dev:*', local: new Map() }, facts)
  const order = plan.items.map((i) => i.image.reference)
  t.equal(order.length, 4)
  for (const system of ['ubuntu-18.04', 'ubuntu-22.04']) {
    t.ok(order.indexOf(`cati/casa-test:${system}`) < order.indexOf(`cati/casa-dev:${system}`), `casa-test before casa-dev on ${system}`)
    const test = plan.items.find((i) => i.image.reference === `cati/casa-test:${system}`)!
    t.match(test.reason, `needed by cati/casa-dev:${system} (not built)`)
    t.same(test.bases, [`ubuntu:${system.slice(7)}`], 'base_image defaults to ubuntu:<version>')
    t.same(plan.items.find((i) => i.image.reference === `cati/casa-dev:${system}`)!.bases, [`cati/casa-test:${system}`])
  }
  const mirrored = await loadCatalog(options([join(packageRoot, 'share', 'docker')], { namespace: 'cati', templateParameters: { docker_mirror: 'mirror.example.org/library/' } }))
  const files = await contextFiles(mirrored.images.find((i) => i.reference === 'cati/casa-test:ubuntu-22.04')!)
  t.match(files.find((f) => f.path === 'Dockerfile')!.content!.toString(), /^FROM mirror\.example\.org\/library\/ubuntu:22\.04$/m)
  t.not(contextDigest(files), facts.get(catalog.images.find((i) => i.reference === 'cati/casa-test:ubuntu-22.04')!)?.digest ?? '', 'the mirror changes the context digest')
})

t.test('validated definitions are remembered by content, in the user cache', async (t) => {
  const { runCli } = await import('./helpers/cli.js')
  const { readFileSync, existsSync } = await import('node:fs')
  const dir = tempDir(t)
  const defs = join(dir, 'defs')
  const home = join(dir, 'home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), `export default { namespace: 'casa-test-cache', imageSearchPath: [${JSON.stringify(defs)}] }\n`)
  const env = { HOME: home, XDG_CACHE_HOME: '', CASA_CONFIG: join(dir, 'casa.config.ts') }
  const cacheFile = join(home, '.cache', 'casa-distro-admin', 'image-definitions.json')
  const names = async () => {
    const result = await runCli(['-r', dir, 'list_images', '--json'], { env })
    t.equal(result.code, 0, result.stderr)
    return (JSON.parse(result.stdout) as { image: string }[]).map((row) => row.image)
  }
  tree(defs, { 'a/s/casa_distro_docker.yaml': simple('first'), 'a/s/Dockerfile': 'FROM scratch\n' })
  t.same(await names(), ['casa-test-cache/first:two'])
  const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as { entries: Record<string, { imageSources: { name: string }[] }> }
  t.equal(Object.keys(cached.entries).length, 1)

  // A changed cache entry shows: the file is not parsed again while its content is the same.
  Object.values(cached.entries)[0]!.imageSources[0]!.name = 'from-cache'
  writeFileSync(cacheFile, JSON.stringify(cached))
  t.same(await names(), ['casa-test-cache/from-cache:two'], 'read from the cache')
  tree(defs, { 'a/s/casa_distro_docker.yaml': simple('edited') })
  t.same(await names(), ['casa-test-cache/edited:two'], 'an edit is parsed again')

  // Invalid files are never remembered; a damaged cache is ignored.
  tree(defs, { 'a/s/casa_distro_docker.yaml': 'image_sources:\n  - name: x\n    tagz: [a]\n' })
  const invalid = await runCli(['-r', dir, 'list_images'], { env })
  t.equal(invalid.code, 1)
  t.match(invalid.stderr, /casa_distro_docker\.yaml:3: unknown key image_sources\[0\]\.tagz/)
  t.equal(Object.keys(JSON.parse(readFileSync(cacheFile, 'utf8')).entries).length, 2, 'first and edited only')
  writeFileSync(cacheFile, '{not json')
  tree(defs, { 'a/s/casa_distro_docker.yaml': simple('again') })
  t.same(await names(), ['casa-test-cache/again:two'])
  t.ok(existsSync(cacheFile))
})
