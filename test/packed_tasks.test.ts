// The package as npm installs it: packed (`npm pack`), installed in a temporary project, and
// every builtin task plus the example site task (examples/tasks) copied into a workflow
// repository that has no node_modules. Each copy runs through the installed
// `casa_distro_admin` (`--help`, and `--dry-run` where it has one): the copies import only the
// public API, which resolves to the installed tool.
import t from 'tap'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot, runProgram } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const builtinTasks = readdirSync(join(projectRoot, 'tasks')).filter((f) => f.endsWith('.ts'))
const exampleTask = join(projectRoot, 'examples', 'tasks', 'image_sizes.ts')

t.test('the builtin tasks import only the public entries', async (t) => {
  const entries = /^casa-distro-admin(\/(images|docker|registry|hubs|singularity|sif|release|distro))?$/
  for (const file of [...builtinTasks.map((f) => join(projectRoot, 'tasks', f)), exampleTask]) {
    const specifiers = [...readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\()'([^']+)'/g)].map((m) => m[1]!)
    const ours = specifiers.filter((s) => s.startsWith('casa-distro-admin'))
    t.ok(ours.length > 0, `${file} uses the API`)
    t.same(ours.filter((s) => !entries.test(s)), [], `${file}: only public entries`)
  }
})

t.test('packed and installed: every builtin task and the example, copied into a workflow repository, run', async (t) => {
  const work = tempDir(t)
  const packed = await runProgram('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: projectRoot })
  t.equal(packed.code, 0, packed.stderr)
  const tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!)
  const tool = join(work, 'tool')
  mkdirSync(tool)
  writeFileSync(join(tool, 'package.json'), JSON.stringify({ name: 'tool', private: true, type: 'module' }))
  const installed = await runProgram('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: tool })
  t.equal(installed.code, 0, installed.stderr)
  const bin = join(tool, 'node_modules', '.bin', 'casa_distro_admin')

  const repo = join(work, 'repo')
  mkdirSync(join(repo, 'tasks'), { recursive: true })
  for (const file of builtinTasks) copyFileSync(join(projectRoot, 'tasks', file), join(repo, 'tasks', file))
  copyFileSync(exampleTask, join(repo, 'tasks', 'image_sizes.ts'))
  // hubs in local directories: a dry run reads them and changes nothing
  const hub = (name: string) => `file://${join(work, 'hubs', name)}`
  writeFileSync(
    join(repo, 'casa.config.ts'),
    `import { defineConfig } from 'casa-distro-admin'
export default defineConfig({
  hubs: {
    docker: { public: { registry: '127.0.0.1:9', namespace: 'cati' } },
    singularity: { upload: '${hub('singularity')}' },
    casaDistro: { upload: '${hub('casa-distro')}' },
    buildWorkflows: { upload: '${hub('bw')}' },
    releasePlan: { upload: '${hub('release')}' },
  },
})
`,
  )
  const env = { HOME: join(work, 'home'), CASA_CONFIG: undefined, CASA_DEFAULT_REPOSITORY: undefined }
  const cli = (args: string[]) => runProgram(bin, ['-r', repo, ...args], { cwd: work, env })

  const help = await cli(['help'])
  t.equal(help.code, 0, help.stderr)
  t.equal(help.stderr, '', 'every copy loads')
  const names = [...builtinTasks.map((f) => f.slice(0, -3)), 'image_sizes']
  for (const name of names) t.match(help.stdout, new RegExp(`^  ${name} .*\\[.*/repo/tasks/${name}\\.ts\\]$`, 'm'), `${name}: the copy is listed`)

  for (const name of names) {
    const taskHelp = await cli([name, '--help'])
    t.equal(taskHelp.code, 0, `${name} --help: ${taskHelp.stderr}`)
    t.match(taskHelp.stdout, new RegExp(`casa_distro_admin ${name}`))
    if (!/\bdry[_-]run\b/.test(taskHelp.stdout)) continue
    // a dry run goes as far as this empty repository allows: it may find nothing to do or
    // nothing to publish (exit 1, one line per image), but it loads and runs the copied task
    const dry = await cli([name, '--dry-run'])
    t.ok(dry.code === 0 || dry.code === 1, `${name} --dry-run exits 0 or 1, not ${dry.code}: ${dry.stderr}`)
    t.notMatch(dry.stderr, /internal error|Could not resolve|Cannot find (module|package)|not a task|\n\s+at /, `${name} --dry-run: no load failure, no stack trace`)
  }
  const sizes = await cli(['image_sizes', '--json'])
  t.equal(sizes.code, 0, sizes.stderr)
  t.ok(Array.isArray(JSON.parse(sizes.stdout)), 'the example site task runs')
})
