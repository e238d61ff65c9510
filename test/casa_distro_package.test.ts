// package_casa_distro and publish_casa_distro end to end: the zip (<= 1 MB, reproducible) runs
// with Node.js alone from a directory with no node_modules above it, including an sftp upload;
// publishing to sshd switches casa-distro.zip atomically and a re-run changes nothing.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { runCli, runProgram } from './helpers/cli.js'
import { startSshd, type Sshd } from './helpers/services.js'
import { sftpBatch, sftpGet, sftpUrl, sshConfig, workflowRepository } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

let sshd: Sshd
t.before(async () => {
  sshd = await startSshd()
})
t.teardown(() => sshd?.stop())

/** The end of a program's stderr, enough to see why it failed. */
const tail = (text: string) => text.slice(-600)
const sha = (data: Buffer) => createHash('sha256').update(data).digest('hex')
const version = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version as string

t.test('the zip is small, reproducible, and runs with Node.js alone', async (t) => {
  const hubDir = join(sshd.root, 'zip-run')
  const repo = workflowRepository(t, `{ hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, hubDir)}' } }, ${sshConfig(sshd)} }`)
  const made = await runCli(['-r', repo.dir, 'package_casa_distro'], { env: repo.env })
  t.equal(made.code, 0, tail(made.stderr))
  const zip = join(repo.dir, `casa-distro-${version}.zip`)
  t.equal(made.stdout.trim(), zip)
  const size = statSync(zip).size
  t.ok(size <= 1_000_000, `at most 1 MB (${size} bytes)`)
  const first = readFileSync(zip)
  const again = await runCli(['-r', repo.dir, 'package_casa_distro'], { env: repo.env })
  t.equal(again.code, 0, tail(again.stderr))
  t.match(again.stderr, `up to date ${zip}`, 'a zip with the same bytes is left alone')
  rmSync(zip)
  const remade = await runCli(['-r', repo.dir, 'package_casa_distro'], { env: repo.env })
  t.equal(remade.code, 0, tail(remade.stderr))
  t.equal(sha(readFileSync(zip)), sha(first), 'the same sources give the same bytes')
  t.same(
    execFileSync('ls', ['-a', repo.dir], { encoding: 'utf8' }).split('\n').filter((n) => n.includes('.tmp')),
    [],
    'no temporary file left',
  )

  const unpacked = tempDir(t, 'casa-zip-run-')
  for (let dir = unpacked; dir !== dirname(dir); dir = dirname(dir)) t.notOk(existsSync(join(dir, 'node_modules')), `no node_modules in ${dir}`)
  execFileSync('unzip', ['-q', zip, '-d', unpacked])
  const top = join(unpacked, `casa-distro-${version}`)
  t.ok(existsSync(join(top, 'README.md')), 'README inside')
  t.ok(statSync(join(top, 'bin', 'casa_distro_admin.js')).mode & 0o100, 'the launcher is executable')
  const home = join(unpacked, 'home')
  mkdirSync(home)
  const env = { HOME: home, SSH_AUTH_SOCK: '', CASA_CONFIG: '' }
  const node = (args: string[]) => runProgram(process.execPath, [join(top, 'bin', 'casa_distro_admin.js'), ...args], { cwd: unpacked, env })

  const help = await node(['help'])
  t.equal(help.code, 0, tail(help.stderr))
  for (const task of ['package_casa_distro', 'publish_casa_distro', 'publish_build_workflows', 'publish_singularity', 'show_config']) t.match(help.stdout, task)
  const taskHelp = await node(['help', 'publish_build_workflows'])
  t.match(taskHelp.stdout, /checksum/)

  // a workflow in the unzipped package's own repository, a plain-JS config, a real sftp upload
  const workflows = join(unpacked, 'repo')
  mkdirSync(join(workflows, 'bv', 'master_ubuntu-22.04', 'conf'), { recursive: true })
  writeFileSync(join(workflows, 'bv', 'master_ubuntu-22.04', 'conf', 'casa_distro.json'), '{"from":"zip"}')
  const config = join(unpacked, 'casa.config.mjs')
  writeFileSync(config, `export default { hubs: { buildWorkflows: { upload: '${sftpUrl(sshd, hubDir)}' } }, ${sshConfig(sshd)} }\n`)
  const dry = await node(['-r', workflows, '--config', config, 'publish_build_workflows', '--dry-run'])
  t.equal(dry.code, 0, tail(dry.stderr))
  t.match(dry.stdout, /upload\s+bv\/master_ubuntu-22\.04\/conf\/casa_distro\.json\s+14 B \(new\)/)
  t.notOk(existsSync(hubDir), 'the dry run uploaded nothing')
  const published = await node(['-r', workflows, '--config', config, 'publish_build_workflows'])
  t.equal(published.code, 0, tail(published.stderr))
  t.equal(sftpGet(sshd, `${hubDir}/bv/master_ubuntu-22.04/conf/casa_distro.json`, unpacked).toString(), '{"from":"zip"}', 'uploaded over sftp by the zipped command')

  // the image definitions parsed by the zipped command are cached as by the installed one
  const listed = await node(['-r', workflows, '--config', config, 'list_images'])
  t.equal(listed.code, 0, tail(listed.stderr))
  const definitionCache = join(home, '.cache', 'casa-distro-admin', 'image-definitions.json')
  const cached = JSON.parse(readFileSync(definitionCache, 'utf8')) as { entries: Record<string, unknown> }
  t.ok(Object.keys(cached.entries).length > 0, `the definitions read are cached (${Object.keys(cached.entries).length})`)
  const listedAgain = await node(['-r', workflows, '--config', config, 'list_images'])
  t.equal(listedAgain.stdout, listed.stdout, 'the cached definitions list the same images')

  // a casa.config.ts of the usual form loads without esbuild
  writeFileSync(join(workflows, 'casa.config.ts'), `import { defineConfig } from 'casa-distro-admin'\nexport default defineConfig({ namespace: 'fromzip' })\n`)
  const shown = await node(['-r', workflows, 'show_config'])
  t.equal(shown.code, 0, tail(shown.stderr))
  t.match(shown.stdout, /namespace: fromzip/)
})

t.test('publish_casa_distro: upload, atomic pointer switch, re-run changes nothing', async (t) => {
  const hubDir = join(sshd.root, 'casa-distro')
  const repo = workflowRepository(t, `{ hubs: { casaDistro: { upload: '${sftpUrl(sshd, hubDir)}' } }, ${sshConfig(sshd)} }`)
  const missing = await runCli(['-r', repo.dir, 'publish_casa_distro', 'package_version=9.9.9'], { env: repo.env })
  t.equal(missing.code, 1)
  t.match(missing.stderr, /casa-distro-9\.9\.9\.zip does not exist: run package_casa_distro first/)

  const versionA = '3.0.0-a'
  const versionB = '3.0.0-b'
  for (const v of [versionA, versionB]) {
    const made = await runCli(['-r', repo.dir, 'package_casa_distro', `package_version=${v}`], { env: repo.env })
    t.equal(made.code, 0, tail(made.stderr))
  }
  const zipA = readFileSync(join(repo.dir, `casa-distro-${versionA}.zip`))
  const zipB = readFileSync(join(repo.dir, `casa-distro-${versionB}.zip`))

  const dry = await runCli(['-r', repo.dir, 'publish_casa_distro', `package_version=${versionA}`, '--dry-run'], { env: repo.env })
  t.equal(dry.code, 0, tail(dry.stderr))
  t.match(dry.stdout, /upload\s+\S+casa-distro-3\.0\.0-a\.zip/)
  t.match(dry.stdout, /switch\s+casa-distro\.zip -> casa-distro-3\.0\.0-a\.zip/)
  t.notOk(existsSync(hubDir), 'a dry run changes nothing')

  const first = await runCli(['-r', repo.dir, 'publish_casa_distro', `package_version=${versionA}`], { env: repo.env })
  t.equal(first.code, 0, tail(first.stderr))
  t.match(first.stderr, /uploaded casa-distro-3\.0\.0-a\.zip; casa-distro\.zip -> casa-distro-3\.0\.0-a\.zip \(symlink\)/)
  const pointer = join(hubDir, 'casa-distro.zip')
  t.equal(readlinkSync(pointer), `casa-distro-${versionA}.zip`)
  t.equal(sha(sftpGet(sshd, `${hubDir}/casa-distro.zip`, tempDir(t))), sha(zipA), 'OpenSSH sftp downloads version A through the pointer')

  const before = { zip: statSync(join(hubDir, `casa-distro-${versionA}.zip`)), link: lstatSync(pointer) }
  const rerun = await runCli(['-r', repo.dir, 'publish_casa_distro', `package_version=${versionA}`], { env: repo.env })
  t.equal(rerun.code, 0, tail(rerun.stderr))
  t.match(rerun.stderr, /already published/)
  t.equal(statSync(join(hubDir, `casa-distro-${versionA}.zip`)).ino, before.zip.ino, 'the zip was not uploaded again')
  t.equal(lstatSync(pointer).ino, before.link.ino, 'the pointer was not re-created')

  // switch to B while a reader follows the pointer all along: always a whole zip, A or B
  let reading = true
  const seen = new Map<string, number>()
  const reader = (async () => {
    while (reading) {
      const digest = sha(readFileSync(pointer)) // throws if the pointer is ever missing
      seen.set(digest, (seen.get(digest) ?? 0) + 1)
      await new Promise((r) => setImmediate(r))
    }
  })()
  const second = await runCli(['-r', repo.dir, 'publish_casa_distro', `package_version=${versionB}`], { env: repo.env })
  reading = false
  await reader
  t.equal(second.code, 0, tail(second.stderr))
  t.ok([...seen.keys()].every((d) => d === sha(zipA) || d === sha(zipB)), `every read found a whole zip (${[...seen.values()].reduce((a, b) => a + b, 0)} reads)`)
  t.equal(readlinkSync(pointer), `casa-distro-${versionB}.zip`)
  t.equal(sha(sftpGet(sshd, `${hubDir}/casa-distro.zip`, tempDir(t))), sha(zipB), 'OpenSSH sftp downloads version B through the pointer')
  t.match(sftpBatch(sshd, [`ls -l ${hubDir}`]), /casa-distro-3\.0\.0-a\.zip[\s\S]*casa-distro-3\.0\.0-b\.zip/, 'both versions stay on the server')
})

t.test('publish_casa_distro to a file:// hub', async (t) => {
  const hubDir = join(tempDir(t), 'www')
  const repo = workflowRepository(t, `{ hubs: { casaDistro: { upload: 'file://${hubDir}' } } }`)
  t.equal((await runCli(['-r', repo.dir, 'package_casa_distro'], { env: repo.env })).code, 0)
  const published = await runCli(['-r', repo.dir, 'publish_casa_distro'], { env: repo.env })
  t.equal(published.code, 0, tail(published.stderr))
  t.equal(readlinkSync(join(hubDir, 'casa-distro.zip')), `casa-distro-${version}.zip`)
  t.equal(sha(readFileSync(join(hubDir, 'casa-distro.zip'))), sha(readFileSync(join(repo.dir, `casa-distro-${version}.zip`))))
})

t.test('a package_version that is no file-name word is refused before any work', async (t) => {
  const repo = workflowRepository(t, `{ hubs: { casaDistro: { upload: '${sftpUrl(sshd, join(sshd.root, 'never'))}' } }, ${sshConfig(sshd)} }`)
  for (const task of ['package_casa_distro', 'publish_casa_distro']) {
    for (const bad of ['../escaped', 'a/b', '.hidden']) {
      const run = await runCli(['-r', repo.dir, task, `package_version=${bad}`], { env: repo.env })
      t.equal(run.code, 1, `${task} package_version=${bad}`)
      t.equal(run.stderr.trim().split('\n').length, 1, `one line: ${run.stderr}`)
      t.match(run.stderr, /package_version "[^"]*": expected a version such as 3\.0\.1/)
    }
    // an empty value is a usage error, as for every option
    const empty = await runCli(['-r', repo.dir, task, 'package_version='], { env: repo.env })
    t.equal(empty.code, 2, `${task} package_version=`)
    t.equal(empty.stderr, `error: ${task}: package_version= needs a value\n`)
  }
  t.notOk(existsSync(join(dirname(repo.dir), 'escaped.zip')), 'nothing written outside the repository')
  t.notOk(existsSync(join(sshd.root, 'never')), 'nothing uploaded')
})

t.test('a repository path with control characters is escaped in messages and tables: no raw ESC, no line split', async (t) => {
  const hubDir = join(tempDir(t), 'www')
  const config = workflowRepository(t, `{ hubs: { casaDistro: { upload: 'file://${hubDir}' } } }`)
  const repository = join(tempDir(t), 'repo\nline\x1b[31mred')
  mkdirSync(repository)
  const clean = (run: { stdout: string; stderr: string }, what: string) => {
    t.notOk((run.stdout + run.stderr).includes('\x1b'), `${what}: no raw ESC`)
    t.notMatch(run.stdout + run.stderr, /^line/m, `${what}: no line split`)
  }
  const missing = await runCli(['-r', repository, 'publish_casa_distro', 'package_version=9.9.9'], { env: config.env })
  t.equal(missing.code, 1)
  t.match(missing.stderr, /repo\\nline\\u001b\[31mred\/casa-distro-9\.9\.9\.zip does not exist/)
  clean(missing, 'a package that does not exist')
  mkdirSync(join(repository, 'casa-distro-9.9.9.zip'))
  const blocked = await runCli(['-r', repository, 'package_casa_distro', 'package_version=9.9.9'], { env: config.env })
  t.equal(blocked.code, 1)
  t.match(blocked.stderr, /repo\\nline\\u001b\[31mred\/casa-distro-9\.9\.9\.zip is not a file: remove it first/)
  clean(blocked, 'a directory where the package goes')
  rmSync(join(repository, 'casa-distro-9.9.9.zip'), { recursive: true })
  t.equal((await runCli(['-r', repository, 'package_casa_distro', 'package_version=9.9.9'], { env: config.env })).code, 0)
  const dry = await runCli(['-r', repository, 'publish_casa_distro', 'package_version=9.9.9', '--dry-run'], { env: config.env })
  t.equal(dry.code, 0, tail(dry.stderr))
  t.match(dry.stdout, /upload\s+\S+repo\\nline\\u001b\[31mred\/casa-distro-9\.9\.9\.zip/)
  clean(dry, 'a dry run')
})
