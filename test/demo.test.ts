// The demo (`npm run demo`) end to end, twice, as a new user runs it: the real tasks against
// the real Docker engine, reference registry, sshd and git. The first run must put every
// output where the README says; the second must find everything up to date.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { projectRoot, runProgram } from './helpers/cli.js'
import { tempDir } from './helpers/tmp.js'

const namespace = 'casa-demo-test'
const artifacts = join(projectRoot, 'test-artifacts')

function removeDemoImages(): void {
  const refs = execFileSync('docker', ['images', '--format', '{{.Repository}}:{{.Tag}}'], { encoding: 'utf8' })
    .split('\n')
    .filter((ref) => ref.includes(`${namespace}/`) || ref.includes(`${namespace}-private/`))
  if (refs.length) execFileSync('docker', ['rmi', '-f', ...refs], { stdio: 'ignore' })
}

const git = (bare: string, ...args: string[]) => execFileSync('git', ['--git-dir', bare, ...args], { encoding: 'utf8' }).trim()

t.test('npm run demo: the whole cycle, then a second run with everything up to date', async (t) => {
  const demoDir = tempDir(t, 'casa-demo-')
  const home = tempDir(t, 'casa-demo-home-')
  removeDemoImages()
  t.teardown(removeDemoImages)
  const env = { CASA_DEMO_DIR: demoDir, CASA_DEMO_NAMESPACE: namespace, HOME: home, CASA_CONFIG: undefined, CASA_DEFAULT_REPOSITORY: undefined }
  let runs = 0
  const demo = async () => {
    const result = await runProgram(process.execPath, [join(projectRoot, 'dist', 'examples', 'demo.js')], { env })
    // Kept for whoever reads a failure: the whole output of each run.
    mkdirSync(artifacts, { recursive: true })
    writeFileSync(join(artifacts, `demo-run-${++runs}.log`), `${result.stdout}\n--- stderr\n${result.stderr}`)
    return result
  }

  const first = await demo()
  t.equal(first.code, 0, `first run: ${first.stderr.slice(-2000)}`)
  const repository = join(demoDir, 'repository')
  const server = join(demoDir, 'sshd', 'srv')

  t.test('SIF images, with md5 and docker id, in the workflow repository', async (t) => {
    for (const image of ['demo-base_busybox', 'demo-tools_busybox', 'demo-app_busybox']) {
      const sif = join(repository, `${namespace}_${image}.sif`)
      t.ok(existsSync(sif), `${sif} exists`)
      t.match(execFileSync('siftool', ['list', sif], { encoding: 'utf8' }), /Squashfs/i, 'siftool reads it')
      t.ok(existsSync(`${sif}.md5`) && existsSync(`${sif}.dockerid`))
      t.equal(readFileSync(join(server, 'singularity', `${namespace}_${image}.sif.md5`), 'utf8'), readFileSync(`${sif}.md5`, 'utf8'), 'published to the server')
    }
  })

  t.test('the registry holds the docker images and the ORAS artifacts', async (t) => {
    const repositories = join(demoDir, 'registry', 'storage', 'docker', 'registry', 'v2', 'repositories')
    t.same(readdirSync(join(repositories, namespace)).sort(), ['demo-app', 'demo-base'], 'public images')
    t.same(readdirSync(join(repositories, `${namespace}-private`)), ['demo-tools'], 'private image')
    t.same(readdirSync(join(repositories, `${namespace}-sif`)).sort(), ['demo-app', 'demo-base', 'demo-tools'], 'SIF artifacts')
  })

  t.test('casa-distro package, build workflows and release plan on the server', async (t) => {
    const version = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')).version
    t.ok(existsSync(join(server, 'casa-distro', `casa-distro-${version}.zip`)))
    t.ok(existsSync(join(server, 'casa-distro', 'casa-distro.zip')), 'the casa-distro.zip pointer')
    t.ok(existsSync(join(server, 'build-workflows', 'brainvisa', 'master_ubuntu-22.04', 'conf', 'casa_distro.json')))
    for (const file of ['release_plan.yaml', 'release_plan.html']) {
      t.equal(readFileSync(join(server, 'release-plan', file), 'utf8'), readFileSync(join(repository, file), 'utf8'), `${file} published`)
    }
    const plan = parse(readFileSync(join(repository, 'release_plan.yaml'), 'utf8'))
    t.ok(plan.demo?.['casa-core'], 'casa-core is in the plan')
    t.notOk(plan.legacy, 'the ignored project is left out')
  })

  t.test('the release was applied to the git components', async (t) => {
    const core = join(demoDir, 'git', 'demo', 'casa-core.git')
    t.equal(git(core, 'rev-parse', 'latest_release'), git(core, 'rev-parse', 'master'), 'casa-core released')
    t.match(git(core, 'show', 'latest_release:project_info.cmake'), /VERSION_PATCH 1 /, 'as 1.0.1')
    t.match(git(core, 'tag'), /1\.0\.0/, 'the previous release kept as a tag')
  })

  const second = await demo()
  t.equal(second.code, 0, `second run: ${second.stderr.slice(-2000)}`)
  t.test('the second run finds everything up to date', async (t) => {
    const out = second.stdout + second.stderr
    t.match(out, /0 built, 3 up to date, 0 failed, 0 skipped/, 'create_docker')
    t.match(out, /0 pushed, 4 up to date, 0 failed/, 'publish_docker')
    t.match(out, /0 updated, 3 unchanged, 0 failed/, 'update_docker')
    t.equal(out.match(/\.sif is up to date/g)?.length, 4, 'create_singularity')
    t.equal(out.match(/up to date on sftp:/g)?.length, 4, 'publish_singularity to the server')
    t.equal(out.match(/up to date in oras:/g)?.length, 4, 'publish_singularity to the registry')
    t.match(out, /up to date \S+casa-distro-\S+\.zip/, 'package_casa_distro')
    t.match(out, /already published on sftp:/, 'publish_casa_distro')
    t.match(out, /0 uploaded \(0 B\), 0 deleted/, 'publish_build_workflows')
    t.match(out, /0 to do, 3 with nothing to do, 0 with warnings, 0 with errors/, 'create_release_plan')
    t.equal(out.match(/nothing to do$/gm)?.length, 2, 'apply_release_plan, dry and for real')
    t.notMatch(out, / built \(|pushed \(|uploaded to /, 'nothing built, pushed or uploaded')
  })
})
