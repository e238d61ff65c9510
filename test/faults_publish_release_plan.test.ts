// publish_release_plan over a connection that drops: test/helpers/tcpProxy.ts in front of a
// real sshd cuts it (FIN or RST, either direction) at 20 points spread over a full upload of
// release_plan.html and release_plan.yaml, and stalls it once past CASA_SFTP_TIMEOUT. After
// each fault (see test/helpers/faults.ts): one error line naming the server, each file on the
// hub under its final name only whole (the local bytes), and the next run uploads them. The
// counts are printed (quoted in the README's reliability section).
import t from 'tap'
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from './helpers/cli.js'
import { injectFaults } from './helpers/faults.js'
import { cmakeVersion, TestRemote } from './helpers/git.js'
import { startSshd } from './helpers/services.js'
import { proxiedSshd } from './helpers/sftp.js'
import { tempDir } from './helpers/tmp.js'

// 21 faults, each a run and its re-run of the CLI: minutes on a loaded machine, past tap's default
t.setTimeout(1_800_000)

t.test('publish_release_plan cut at 20 points and stalled once', async (t) => {
  const sshd = await startSshd()
  t.teardown(sshd.stop)
  const via = await proxiedSshd(t, sshd, { lifetimeMs: 1_800_000 })
  const hubDir = join(sshd.root, 'release-plan')
  // a plan of 30 components read from local remotes (the plan files are a few tens of kB)
  const root = tempDir(t, 'casa-faults-plan-remotes-')
  const components = Array.from({ length: 30 }, (_, i) => {
    const remote = new TestRemote(root, `component-${i}`)
    remote.commit('master', { 'project_info.cmake': cmakeVersion(`1.${i}.0`) })
    return { project: `project-${i % 3}`, name: `component-${i}`, url: remote.url }
  })
  const dir = tempDir(t, 'casa-faults-plan-')
  const home = join(dir, '.home')
  mkdirSync(home)
  writeFileSync(join(dir, 'casa.config.ts'), `export default { releasePlan: { components: ${JSON.stringify(components)} }, hubs: { releasePlan: { upload: '${via.url(hubDir)}' } }, ${via.sshConfig} }\n`)
  const env = { HOME: home, CASA_CONFIG: join(dir, 'casa.config.ts') }
  const created = await runCli(['-r', dir, 'create_release_plan'], { env })
  t.equal(created.code, 0, created.stderr)
  const local = Object.fromEntries(['release_plan.yaml', 'release_plan.html'].map((name) => [name, readFileSync(join(dir, name))]))

  const counts = await injectFaults(t, {
    proxy: via.proxy,
    reset: () => {
      rmSync(hubDir, { recursive: true, force: true })
      mkdirSync(hubDir)
    },
    run: (extra = {}) => runCli(['-r', dir, 'publish_release_plan'], { env: { ...env, ...extra } }),
    server: new RegExp(`127\\.0\\.0\\.1\\]?:${via.proxy.port}`),
    stallEnv: { CASA_SFTP_TIMEOUT: '3' },
    damaged: () =>
      readdirSync(hubDir)
        .filter((name) => !name.includes('.casa-tmp-'))
        .flatMap((name) => (!(name in local) ? [`${name}: not expected on the hub`] : readFileSync(join(hubDir, name)).equals(local[name]!) ? [] : [`${name} on the hub is not the local file`])),
    incomplete: () => Object.keys(local).find((name) => !readdirSync(hubDir).includes(name)),
  })
  t.ok(counts)
})
