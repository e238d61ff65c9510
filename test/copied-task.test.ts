// A task file copied into another repository keeps working there, as long as that
// repository has casa-distro-admin installed (here: from the package tarball, as npm would).
import t from 'tap'
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { projectRoot, runProgram } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

t.test('a copied task runs through its shebang next to an installed casa-distro-admin', async (t) => {
  const work = tempDir(t)
  const packed = await runProgram('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: projectRoot })
  t.equal(packed.code, 0, packed.stderr)
  const tarball = join(work, readdirSync(work).find((f) => f.endsWith('.tgz'))!)

  const repo = join(work, 'other-repo')
  mkdirSync(join(repo, 'tasks'), { recursive: true })
  writeFileSync(join(repo, 'package.json'), JSON.stringify({ name: 'other-repo', private: true, type: 'module' }))
  const installed = await runProgram('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: repo })
  t.equal(installed.code, 0, installed.stderr)

  copyFileSync(join(projectRoot, 'tasks', 'show_config.ts'), join(repo, 'tasks', 'show_config.ts'))
  writeFileSync(join(repo, 'casa.config.ts'), `import { defineConfig } from 'casa-distro-admin'\nexport default defineConfig({ namespace: 'other' })\n`)
  const env = { HOME: join(work, 'home'), CASA_CONFIG: undefined, CASA_DEFAULT_REPOSITORY: undefined }

  const result = await runProgram(join(repo, 'tasks', 'show_config.ts'), ['-r', repo, '--json'], { cwd: repo, env })
  t.equal(result.code, 0, result.stderr)
  const config = JSON.parse(result.stdout)
  t.equal(config.namespace, 'other', 'the repository config is read')
  t.equal(config.imageSearchPath.at(-1), join(repo, 'node_modules', 'casa-distro-admin', 'share', 'docker'), 'builtins come from the installed package')

  const help = await runProgram('npx', ['--no-install', 'casa_distro_admin', 'help', 'show_config'], { cwd: repo, env })
  t.equal(help.code, 0, help.stderr)
  t.match(help.stdout, /casa_distro_admin show_config/)
})
