// The demo workflow repository's configuration (examples/demo.ts copies this directory and
// runs every task on it). The hubs point at services the demo starts on loopback and passes
// in the environment; the release plan's components are computed from the bare git
// repositories the demo creates, which is the point of a config written in TypeScript.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { defineConfig } from 'casa-distro-admin'

function demoEnv(name: string): string {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is not set: this configuration is used by "npm run demo"`)
  return value
}

export default defineConfig(() => {
  const registry = demoEnv('CASA_DEMO_REGISTRY') // 127.0.0.1:PORT, the reference registry
  const sftp = demoEnv('CASA_DEMO_SFTP') // sftp://user@127.0.0.1:PORT/<server root>
  const serverRoot = demoEnv('CASA_DEMO_SERVER_ROOT') // the same directory, seen locally
  const download = demoEnv('CASA_DEMO_HTTP') // http://127.0.0.1:PORT serving that directory
  const gitRoot = demoEnv('CASA_DEMO_GIT') // <demo dir>/git/<project>/<component>.git
  const namespace = process.env.CASA_DEMO_NAMESPACE ?? 'casa-demo'

  const components = readdirSync(gitRoot).flatMap((project) =>
    readdirSync(join(gitRoot, project))
      .filter((entry) => entry.endsWith('.git'))
      .map((entry) => ({ project, name: entry.slice(0, -4), url: `file://${join(gitRoot, project, entry)}` })),
  )

  return {
    namespace,
    templateParameters: { demo_namespace: namespace },
    imageSearchPath: ['{repository}/share/docker'],
    hubs: {
      docker: {
        public: { registry, namespace },
        private: { registry, namespace: `${namespace}-private` },
      },
      singularity: {
        upload: `${sftp}/singularity`,
        download: `${download}/singularity`,
        oras: `oras://${registry}/${namespace}-sif`,
      },
      casaDistro: { upload: `${sftp}/casa-distro` },
      // A hub can also be a directory (a web server's document root on a shared file system).
      buildWorkflows: { upload: `file://${serverRoot}/build-workflows` },
      releasePlan: { upload: `${sftp}/release-plan` },
    },
    ssh: { identityFile: demoEnv('CASA_DEMO_SSH_KEY'), knownHosts: demoEnv('CASA_DEMO_KNOWN_HOSTS') },
    releasePlan: { components },
  }
})
