// The start-up path in one file (scripts/bundle-startup.mjs, run by `npm run build`): the
// modules every command loads are bundled into dist/startup.js, and each keeps its path in
// dist/lib as a stub. Checked on the build the other tests run (`npm test` builds first):
// every stub has its module's names, there is one instance of a module by whichever path it
// is imported, import.meta.url is still each module's own, and a command run as users run it
// takes its start-up code from the bundle.
import t from 'tap'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { binPath, projectRoot, runProgram } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const dist = join(projectRoot, 'dist')
const bundle = join(dist, 'startup.js')
const stubMark = '// Its code is in dist/startup.js'

function jsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? jsFiles(join(dir, e.name)) : e.name.endsWith('.js') ? [join(dir, e.name)] : []))
}
const compiled = jsFiles(join(dist, 'lib'))
const stubs = compiled.filter((file) => readFileSync(file, 'utf8').startsWith(stubMark))
const load = (file: string) => import(pathToFileURL(file).href) as Promise<Record<string, unknown>>

t.test('the start-up path is bundled, each module keeping its names', async (t) => {
  for (const seed of ['lib/cli/cli.js', 'lib/config/config.js', 'lib/index.js', 'lib/docker/index.js', 'lib/images/index.js']) {
    t.ok(stubs.includes(join(dist, seed)), `${seed} is in the bundle`)
  }
  t.ok(stubs.length < compiled.length / 2, `${stubs.length} of ${compiled.length} modules bundled: what loads on use stays a file`)
  for (const stub of stubs) {
    const source = join(projectRoot, relative(dist, stub)).replace(/\.js$/, '.ts')
    t.same(Object.keys(await load(stub)).sort(), Object.keys(await load(source)).sort(), `${relative(dist, stub)}: the names of ${relative(projectRoot, source)}`)
  }
})

t.test('one instance of each module, by whichever path it is imported', async (t) => {
  const index = await load(join(dist, 'lib', 'index.js'))
  t.equal(index.ui, (await load(join(dist, 'lib', 'util', 'ui.js'))).ui, 'ui: casa-distro-admin and lib/util/ui.js')
  t.equal(index.UserError, (await load(join(dist, 'lib', 'util', 'errors.js'))).UserError, 'UserError: the same class')
  // hubs/transport.js loads on use, outside the bundle: the UserError it throws is the bundled
  // class, which the CLI tells from a bug by instanceof (one line, no stack trace)
  const transport = join(dist, 'lib', 'hubs', 'transport.js')
  t.notOk(stubs.includes(transport), 'hubs/transport.js is outside the bundle')
  const openHub = (await load(transport)).openHub as (url: string) => Promise<unknown>
  await t.rejects(openHub('bogus://x'), index.UserError as new () => Error, 'its error is a UserError of casa-distro-admin')
  t.equal((await load(join(dist, 'lib', 'util', 'paths.js'))).packageRoot, projectRoot, "paths.js finds the package from its own import.meta.url, not the bundle's")
})

t.test('a command run as users run it loads its start-up code from the bundle', async (t) => {
  const dir = tempDir(t, 'casa-startup-bundle-')
  // Every file:// module the run loads, written by a loader hook (the hooks run on their own thread).
  const probe = join(dir, 'probe.mjs')
  const loaded = join(dir, 'loaded.txt')
  const hook = `import { appendFileSync } from 'node:fs'\nexport async function load(url, context, next) { if (url.startsWith('file:')) appendFileSync(${JSON.stringify(loaded)}, url + '\\n'); return next(url, context) }\n`
  writeFileSync(probe, `import { register } from 'node:module'\nregister(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)})\n`)
  for (const command of [['show_config'], ['help']]) {
    writeFileSync(loaded, '')
    const result = await runProgram(process.execPath, ['--import', pathToFileURL(probe).href, binPath, ...command], { env: { HOME: dir, CASA_CONFIG: undefined, XDG_CACHE_HOME: undefined } })
    t.equal(result.code, 0, `${command.join(' ')}: ${result.stderr}`)
    const files = readFileSync(loaded, 'utf8').split('\n').filter(Boolean).map((url) => fileURLToPath(url))
    t.ok(files.includes(bundle), `${command.join(' ')} loads dist/startup.js`)
    const unbundled = files.filter((file) => file.startsWith(join(dist, 'lib')) && !stubs.includes(file)).map((file) => relative(dist, file))
    t.same(unbundled, [], `${command.join(' ')}: no module of dist/lib but the bundled ones' stubs`)
  }
})
