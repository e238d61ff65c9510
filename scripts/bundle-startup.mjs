// Run by `npm run build` after tsc: the modules every command loads at start-up, in one file.
//
// Node 20 loads an ES module for about 0.5 ms (resolve, read, compile, link), and a no-op
// create_docker loaded 54 of ours: a third of its time above node's own start. Here the
// modules reachable without a dynamic import from the seeds below (the CLI, the config, the
// task API, docker and images) are bundled into dist/startup.js, and each of their files in
// dist/ is replaced by a stub re-exporting its names from there. So every importer (our other
// modules, the builtin and a site's tasks, `casa-distro-admin/...`) still finds the module at
// its path, and there is still one instance of each: ui, the engine watch and the error
// classes are shared as before. What the start-up path imports dynamically (the YAML parser,
// zx, the registry client, every other lib/ module) stays a file of its own, loaded when used.
import { build, transform } from 'esbuild'
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const bundleFile = join(dist, 'startup.js')
const seeds = ['lib/cli/cli.js', 'lib/config/config.js', 'lib/index.js', 'lib/docker/index.js', 'lib/images/index.js'].map((p) => join(dist, p))
const seedSet = new Set(seeds)

/** `./lib/...` from dist/: how the bundle names a module of dist/lib it leaves outside. */
const fromBundle = (file) => `./${relative(dist, file).split('\\').join('/')}`

/**
 * Static imports of our modules are followed (that is the start-up path); packages, node's
 * modules and dynamic imports of a module not `inside` stay imports, resolved from the bundle.
 */
const startupPath = (inside) => ({
  name: 'startup-path',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      if (args.kind === 'entry-point') return undefined
      // minimist, the one package on the path, is CommonJS: node would scan its source for
      // export names on every start (cjs-module-lexer); bundled, esbuild did that once
      if (args.path === 'minimist') return undefined
      if (!/^\.{0,2}\//.test(args.path)) return { path: args.path, external: true }
      const target = resolve(args.resolveDir, args.path)
      if (!target.startsWith(join(dist, 'lib') + '/') && !args.importer.includes('/node_modules/')) throw new Error(`${args.importer}: imports ${args.path}, outside dist/lib`)
      if (args.kind === 'dynamic-import' && !inside.has(target)) return { path: fromBundle(target), external: true }
      return { path: target }
    })
    // A module's import.meta.url stays its own file's, not the bundle's: paths.ts finds the
    // package from it, a cache stamps the code next to it. Replaced as an expression (define),
    // so that the words in a string (the config bundler's own define) are left alone.
    b.onLoad({ filter: /\.js$/ }, async (args) => {
      const code = readFileSync(args.path, 'utf8')
      if (!code.includes('import.meta.url')) return undefined
      const own = await transform(code, { loader: 'js', format: 'esm', define: { 'import.meta.url': '__casa_module_url' } })
      const declared = `const __casa_module_url = new URL(${JSON.stringify(fromBundle(args.path))}, import.meta.url).href;\n`
      return { contents: declared + own.code, loader: 'js', resolveDir: dirname(args.path) }
    })
  },
})

// Stubs are what this script writes: bundling them again would lose the code.
const stubMark = '// Its code is in dist/startup.js'
for (const seed of seeds) {
  if (readFileSync(seed, 'utf8').startsWith(stubMark)) {
    console.error(`scripts/bundle-startup.mjs: ${relative(root, seed)} is already a stub; run \`npm run build\` (tsc, then this script)`)
    process.exit(1)
  }
}

const common = { bundle: true, format: 'esm', platform: 'node', target: 'node20', logLevel: 'silent', write: false, metafile: true, plugins: [startupPath(seedSet)] }

// Which modules are on the path, then what each exports (a module of the path may be imported
// by name from outside it, so each gets a stub).
const reach = await build({ ...common, entryPoints: seeds, outdir: '/startup-reach' })
const modules = Object.keys(reach.metafile.inputs)
  .map((input) => resolve(input))
  .filter((file) => file.startsWith(join(dist, 'lib') + '/'))
  .sort()
const named = await build({ ...common, entryPoints: modules, outdir: '/startup-names', outbase: dist })
const exportsOf = new Map()
for (const output of Object.values(named.metafile.outputs)) if (output.entryPoint) exportsOf.set(resolve(output.entryPoint), output.exports)

const alias = (i, name) => `m${i}$${name}`
const entry = modules.map((file, i) => `export { ${exportsOf.get(file).map((name) => `${name} as ${alias(i, name)}`).join(', ')} } from ${JSON.stringify(fromBundle(file))}`).join('\n')
// A dynamic import of a module already on the path stays inside the bundle: no stub to load.
// The source map goes through the maps tsc wrote (node --enable-source-maps names lib/*.ts).
const bundled = await build({ ...common, plugins: [startupPath(new Set(modules))], stdin: { contents: entry, resolveDir: dist, sourcefile: 'startup-entry.js' }, outfile: bundleFile, sourcemap: 'linked' })
const code = bundled.outputFiles.find((f) => f.path === bundleFile).text
const map = bundled.outputFiles.find((f) => f.path === `${bundleFile}.map`).text

// Each file written under a temporary name, then renamed. A build interrupted between the
// bundle and its stubs is mended by building again: tsc rewrites every module first.
writeFileSync(`${bundleFile}.map.tmp`, map)
renameSync(`${bundleFile}.map.tmp`, `${bundleFile}.map`)
writeFileSync(`${bundleFile}.tmp`, code)
renameSync(`${bundleFile}.tmp`, bundleFile)
modules.forEach((file, i) => {
  const names = exportsOf.get(file)
  const target = JSON.stringify(relative(dirname(file), bundleFile).split('\\').join('/')) // ../../startup.js: a stub is below dist/lib
  const body = names.length ? `export { ${names.map((name) => `${alias(i, name)} as ${name}`).join(', ')} } from ${target}` : `import ${target}`
  writeFileSync(`${file}.tmp`, `${stubMark}, with the rest of the start-up path (scripts/bundle-startup.mjs).\n${body}\n`)
  renameSync(`${file}.tmp`, file)
  rmSync(`${file}.map`, { force: true })
})
console.log(`dist/startup.js: ${modules.length} modules, ${(code.length / 1024).toFixed(0)} KiB`)
