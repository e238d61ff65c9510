// Mirroring build workflows to sshd on loopback: publish_build_workflows (ours) against the
// original's `lftp mirror -R --delete` in the same run, each into its own directory:
//   - full upload of a tree of 5,000 files of mixed sizes (CASA_BENCH_MIRROR_FILES to change): goal <= 1.0
//   - after changing 1% of the files (and deleting a few): for information only (the goal
//     of 0.5 is retired: its floor is a fresh Node process, as the floor lines show; the
//     wide-area goals of bench/wan.bench.ts replace it)
//   - a run with nothing changed transfers 0 bytes (ours, read from its report)
// and, for information, the floor of any Node mirror: a program that only loads ssh2, connects
// and opens SFTP (sshFloor.ts), against the same lftp 1% update.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { startSshd } from '../test/helpers/services.js'
import { compare, median, timeCommand, type BenchLine } from './measure.js'
import { makeTree } from './benchTree.js'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'casa_distro_admin.js')

export default async function (): Promise<BenchLine[]> {
  const count = Number(process.env.CASA_BENCH_MIRROR_FILES ?? 5000)
  const sshd = await startSshd()
  const work = mkdtempSync(join(tmpdir(), 'casa-bench-mirror-'))
  try {
    const repo = join(work, 'repo')
    const workflow = join(repo, 'bench', 'master_ubuntu-22.04')
    const { bytes, files } = makeTree(workflow, count)
    const home = join(work, 'home')
    mkdirSync(home)
    const oursDir = join(sshd.root, 'ours')
    const lftpDir = join(sshd.root, 'lftp')
    writeFileSync(
      join(repo, 'casa.config.ts'),
      `export default { hubs: { buildWorkflows: { upload: 'sftp://${sshd.user}@127.0.0.1:${sshd.port}${oursDir}' } }, ssh: { identityFile: '${sshd.clientKey}', knownHosts: '${sshd.knownHosts}' } }\n`,
    )
    const env = { ...process.env, HOME: home, CASA_CONFIG: join(repo, 'casa.config.ts'), SSH_AUTH_SOCK: '', NO_COLOR: '1', CI: 'true' }
    let lastReport = ''
    const ours = () => {
      const started = performance.now()
      const result = spawnSync(process.execPath, [bin, '-r', repo, 'publish_build_workflows'], { env, encoding: 'utf8' })
      const ms = performance.now() - started
      if (result.status !== 0) throw new Error(`publish_build_workflows failed: ${result.stderr.slice(-400)}`)
      lastReport = result.stderr
      return ms
    }
    const ssh = `ssh -a -x -i ${sshd.clientKey} -o IdentitiesOnly=yes -o UserKnownHostsFile=${sshd.knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes`
    mkdirSync(lftpDir)
    const lftp = () => {
      const started = performance.now()
      execFileSync('lftp', ['-c', `set sftp:connect-program "${ssh}"; open -u ${sshd.user}, sftp://127.0.0.1:${sshd.port}; mirror -R --delete ${join(workflow)} ${join(lftpDir, 'bench', 'master_ubuntu-22.04')}`], { stdio: 'ignore', env: { ...process.env, HOME: home } })
      return performance.now() - started
    }
    mkdirSync(join(lftpDir, 'bench'), { recursive: true })

    const lines: BenchLine[] = []
    lines.push(await compare(`full upload of ${count} files (${(bytes / 1e6).toFixed(0)} MB) vs lftp mirror -R --delete`, ours, lftp, { runs: 1, goal: 1.0 }))
    const oursFull = /(\d+) uploaded \(([^)]+)\)/.exec(lastReport)

    // 1% of the files changed (new content, some with another size) and a few deleted
    let round = 0
    const changeOnePercent = () => {
      round++
      for (let i = 0; i < files.length; i += 100) {
        const file = join(workflow, files[(i + round) % files.length]!)
        // a file deleted by an earlier round comes back: still one upload
        const data = existsSync(file) ? readFileSync(file) : Buffer.from('0 recreated\n')
        writeFileSync(file, round % 2 ? Buffer.concat([data, Buffer.from(`changed ${round}\n`)]) : Buffer.from(data.toString('latin1').replace(/^\d+/, `${round}`), 'latin1'))
      }
      for (let i = 0; i < 5; i++) rmSync(join(workflow, files[(round * 7 + i * 997) % files.length]!), { force: true })
    }
    lines.push(
      await compare(
        `1% changed (${Math.ceil(files.length / 100)} files) vs lftp mirror -R --delete`,
        () => {
          changeOnePercent()
          return ours()
        },
        lftp,
        { runs: 5 },
      ),
    )
    const oursUpdate = /(\d+) uploaded \(([^)]+)\), (\d+) deleted/.exec(lastReport)

    // The floor: what a 1% update costs a Node program before it lists, walks or uploads
    // anything. The 0.5 goal cannot be met below it. lftp gets a fresh 1% each time.
    const floor = (...walk: string[]) => () =>
      timeCommand([process.execPath, join(root, 'dist', 'bench', 'sshFloor.js'), '127.0.0.1', String(sshd.port), sshd.user, sshd.clientKey, sshd.knownHosts, ...walk], { env })
    const lftpOnePercent = () => {
      changeOnePercent()
      return lftp()
    }
    const nodeAlone = median(Array.from({ length: 5 }, () => timeCommand([process.execPath, '-e', '0'], { env })))
    lines.push(
      await compare('floor: node + ssh2 connecting and opening SFTP only (no listing, walk or upload) vs lftp 1% changed', floor(), lftpOnePercent, {
        runs: 5,
        note: `node -e 0 alone takes ${nodeAlone.toFixed(0)} ms here`,
      }),
      await compare(`floor with the stat walk of the ${count} local files vs lftp 1% changed`, floor(workflow), lftpOnePercent, { runs: 5 }),
    )
    ours() // catch up with the changes lftp just mirrored

    // nothing changed: our report must say 0 bytes
    ours()
    const noChange = /(\d+) uploaded \((\d+) B\)/.exec(lastReport)
    const transferred = noChange ? Number(noChange[2]) : Number.NaN
    lines.push({
      name: 'no-change run: bytes uploaded / tree size',
      ours: transferred,
      baseline: bytes,
      unit: 'bytes',
      ratio: transferred / bytes,
      goal: 0,
      note: `ours reported "${noChange?.[0] ?? lastReport.slice(-200)}"; full run "${oursFull?.[0]}", last 1% run "${oursUpdate?.[0]}"`,
    })
    // both mirrors must hold the same tree
    const listing = (dir: string) => execFileSync('find', ['.', '-type', 'f', '-not', '-name', '.*'], { cwd: dir, encoding: 'utf8' }).split('\n').sort().join('\n')
    if (listing(join(oursDir, 'bench', 'master_ubuntu-22.04')) !== listing(workflow)) throw new Error('our mirror differs from the local tree')
    if (listing(join(lftpDir, 'bench', 'master_ubuntu-22.04')) !== listing(workflow)) throw new Error("lftp's mirror differs from the local tree")
    return lines
  } finally {
    await sshd.stop()
    rmSync(work, { recursive: true, force: true })
  }
}
