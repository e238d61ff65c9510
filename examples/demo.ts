// `npm run demo`: the whole admin cycle on one machine, offline. Starts what it needs on
// loopback (the Docker engine if none answers, the reference registry, sshd, a static HTTP
// server), runs the real tasks through the casa_distro_admin command on the example workflow
// repository, prints where everything landed and stops what it started. State is kept in
// $CASA_DEMO_DIR (default: .demo/ in this checkout), so a second run finds everything up to date.
import { spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { binPath, projectRoot } from '../test/helpers/cli.js'
import { ensureDocker, startHttpServer, startRegistry, startSshd } from '../test/helpers/services.js'
import { ensureDemoRepositories } from './demoRepositories.js'
import { demoPorts, listFiles, prepareRepository } from './demoWorkspace.js'

const demoDir = resolve(process.env.CASA_DEMO_DIR ?? join(projectRoot, '.demo'))
const repository = join(demoDir, 'repository')
const namespace = process.env.CASA_DEMO_NAMESPACE ?? 'casa-demo'
const images = `${namespace}/*`

/** The cycle, in the order an administrator runs it. */
const steps: string[][] = [
  ['create_docker', `image_names=${images}`],
  ['list_images', `image_names=${images}`],
  ['publish_docker', `image_names=${images}`],
  ['update_docker', `image_names=${images}`],
  ['create_singularity', `image_names=${images}`],
  ['publish_singularity', `image_names=${images}`],
  ['package_casa_distro'],
  ['publish_casa_distro'],
  ['publish_build_workflows'],
  ['create_release_plan'],
  ['publish_release_plan'],
  ['apply_release_plan', 'dry=1'],
  ['apply_release_plan'],
]

function say(text: string): void {
  process.stdout.write(`\n== ${text}\n`)
}

function runTask(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [binPath, ...args, '-r', repository], { stdio: 'inherit', env })
    child.on('exit', (code, signal) => done(code ?? (signal ? 130 : 1)))
  })
}

async function main(): Promise<number> {
  mkdirSync(demoDir, { recursive: true })
  say(`demo directory ${demoDir}`)
  ensureDocker()
  prepareRepository(join(projectRoot, 'examples', 'workflow'), repository)
  const gitRoot = join(demoDir, 'git')
  for (const created of ensureDemoRepositories(gitRoot)) process.stdout.write(`created ${created}\n`)

  const ports = await demoPorts(join(demoDir, 'ports.json'))
  const registry = await startRegistry({ dir: join(demoDir, 'registry'), port: ports.registry })
  const sshd = await startSshd({ dir: join(demoDir, 'sshd'), port: ports.ssh })
  const http = await startHttpServer(sshd.root, { port: ports.http })
  const stopServices = async () => {
    await Promise.allSettled([http.stop(), sshd.stop(), registry.stop()])
  }
  const onSignal = () => void stopServices().then(() => process.exit(130))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  process.stdout.write(
    `registry ${registry.host}, sftp://${sshd.user}@127.0.0.1:${sshd.port}${sshd.root}, download ${http.url}\n`,
  )

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CASA_DEMO_REGISTRY: registry.host,
    CASA_DEMO_SFTP: `sftp://${sshd.user}@127.0.0.1:${sshd.port}${sshd.root}`,
    CASA_DEMO_SERVER_ROOT: sshd.root,
    CASA_DEMO_HTTP: http.url,
    CASA_DEMO_GIT: gitRoot,
    CASA_DEMO_SSH_KEY: sshd.clientKey,
    CASA_DEMO_KNOWN_HOSTS: sshd.knownHosts,
    CASA_DEMO_NAMESPACE: namespace,
  }
  delete env.CASA_CONFIG // the workflow repository's own casa.config.ts is the one to use

  try {
    for (const step of steps) {
      say(`casa_distro_admin ${step.join(' ')}`)
      const code = await runTask(step, env)
      if (code !== 0) {
        process.stderr.write(`demo: ${step[0]} failed (exit ${code}); the services are stopped, a re-run goes on from here\n`)
        return code
      }
    }
    say('where everything landed')
    process.stdout.write(`workflow repository  ${repository}\n`)
    for (const file of listFiles(repository).filter((f) => /^[^/]+\.(sif|simg|zip|yaml|html)$/.test(f))) process.stdout.write(`  ${file}\n`)
    process.stdout.write(`registry ${registry.host}  (storage ${registry.storage})\n`)
    const catalog = (await (await fetch(`http://${registry.host}/v2/_catalog`)).json()) as { repositories: string[] }
    for (const name of catalog.repositories) process.stdout.write(`  ${name}\n`)
    process.stdout.write(`server (sftp and ${http.url})  ${sshd.root}\n`)
    for (const file of listFiles(sshd.root)) process.stdout.write(`  ${file}\n`)
    return 0
  } finally {
    await stopServices()
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`demo: ${error.message}\n`)
    process.exit(1)
  },
)
