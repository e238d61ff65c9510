// publish_build_workflows against a connection that drops: test/helpers/tcpProxy.ts in front
// of a real sshd cuts it (FIN or RST, either direction) at 20 points spread over a full
// upload. Each cut run must exit non-zero with an error line naming the server, leave no file
// under its final name that differs from the local one (partial or stale), and the run after
// it must complete the mirror. The counts are printed (quoted in the README's reliability
// section).
import t from 'tap'
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { runCli } from './helpers/cli.js'
import { startSshd } from './helpers/services.js'
import { startTcpProxy, type Fault } from './helpers/tcpProxy.js'
import { workflowRepository } from './helpers/sftp.js'

const POINTS = 20

function files(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const full = join(d, name)
      if (statSync(full).isDirectory()) walk(full)
      else out.push(relative(dir, full))
    }
  }
  walk(dir)
  return out.sort()
}
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex')

t.test(`publish_build_workflows cut at ${POINTS} points: fails with one line, loses nothing, the next run completes`, async (t) => {
  const sshd = await startSshd()
  t.teardown(sshd.stop)
  const proxy = await startTcpProxy({ targetPort: sshd.port, lifetimeMs: 300_000 })
  t.teardown(proxy.stop)
  const knownHosts = join(sshd.root, '..', 'known_hosts_proxy')
  writeFileSync(knownHosts, `[127.0.0.1]:${proxy.port} ${sshd.hostKeyPublic.split(' ').slice(0, 2).join(' ')}\n`)
  const hubDir = join(sshd.root, 'hub')
  const repo = workflowRepository(
    t,
    `{ hubs: { buildWorkflows: { upload: 'sftp://${sshd.user}@127.0.0.1:${proxy.port}${hubDir}' } }, ssh: { identityFile: ${JSON.stringify(sshd.clientKey)}, knownHosts: ${JSON.stringify(knownHosts)} } }`,
  )
  // a workflow of 40 files, small ones and a few of 300 kB (streamed in blocks)
  const workflow = join(repo.dir, 'bv', 'master_ubuntu-22.04')
  for (let i = 0; i < 40; i++) {
    const path = join(workflow, `d${i % 4}`, `f${i}.${i % 10 === 0 ? 'bin' : 'py'}`)
    mkdirSync(join(path, '..'), { recursive: true })
    writeFileSync(path, Buffer.alloc(i % 10 === 0 ? 300_000 : 2_000 + i * 97, `${i} content\n`))
  }
  mkdirSync(join(workflow, 'conf'), { recursive: true })
  writeFileSync(join(workflow, 'conf', 'casa_distro.json'), '{"distro":"bv"}')
  const local = files(workflow)
  const remote = join(hubDir, 'bv', 'master_ubuntu-22.04')
  const publish = () => runCli(['-r', repo.dir, 'publish_build_workflows'], { env: repo.env })

  // a clean full run, for the bytes each way that a full upload takes
  const up0 = proxy.stats.bytesUp
  const down0 = proxy.stats.bytesDown
  const clean = await publish()
  t.equal(clean.code, 0, clean.stderr)
  const bytesUp = proxy.stats.bytesUp - up0
  const bytesDown = proxy.stats.bytesDown - down0

  let injected = 0
  let recovered = 0
  let lost = 0
  for (let k = 1; k <= POINTS; k++) {
    rmSync(hubDir, { recursive: true, force: true })
    // spread over the transfer: most cuts on the uploading side, every fourth on the answers
    const down = k % 4 === 0
    const fault: Fault = { kind: k % 3 === 0 ? 'reset' : 'close', direction: down ? 'down' : 'up', afterBytes: Math.floor(((down ? bytesDown : bytesUp) * k) / (POINTS + 1)) }
    proxy.arm(fault)
    const cut = await publish()
    if (proxy.armed) {
      // the run needed fewer bytes than the clean one (a listing found nothing): no cut
      proxy.arm({ ...fault, afterBytes: Number.MAX_SAFE_INTEGER })
      t.equal(cut.code, 0, `point ${k}: not reached, the run completed`)
    } else {
      injected++
      t.not(cut.code, 0, `point ${k} (${fault.kind} after ${fault.afterBytes} bytes ${fault.direction}): the run fails`)
      const errors = cut.stderr.split('\n').filter((l) => /error|cannot|failed|closed|lost/i.test(l) && /127\.0\.0\.1/.test(l))
      t.ok(errors.length >= 1, `point ${k}: an error line names the server: ${cut.stderr.trim().split('\n').pop()}`)
      t.notMatch(cut.stderr, /^\s+at /m, `point ${k}: no stack trace`)
    }
    // every file under its final name is the local one (a partial file has a temporary name)
    let present: string[] = []
    try {
      present = files(remote).filter((f) => !f.includes('.casa-tmp-') && !f.endsWith('.casa-mirror.lock'))
    } catch {
      // the cut came before the directory was made
    }
    for (const f of present) {
      if (!local.includes(f) || sha(join(remote, f)) !== sha(join(workflow, f))) {
        lost++
        t.fail(`point ${k}: ${f} on the hub is not the local file`)
      }
    }
    const again = await publish()
    if (again.code === 0 && files(remote).filter((f) => !f.endsWith('.casa-mirror.lock')).join() === local.join() && local.every((f) => sha(join(remote, f)) === sha(join(workflow, f)))) recovered++
    else t.fail(`point ${k}: the run after the cut did not complete the mirror: ${again.stderr.slice(-400)}`)
  }
  t.comment(`faults injected: ${injected}, runs recovered: ${recovered}, files lost: ${lost}`)
  t.ok(injected >= POINTS - 2, `${injected} of ${POINTS} cuts happened during a run`)
  t.equal(recovered, POINTS, 'every run after a cut completed the mirror')
  t.equal(lost, 0, 'no file under a final name was partial or wrong')
})
