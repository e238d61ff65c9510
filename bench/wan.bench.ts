// Far-away servers: every transfer goes through test/helpers/tcpProxy.ts adding 20 ms each
// way (RTT 40 ms), as the hubs and forges users publish to are. `npm run bench -- wan` runs
// this group alone. Each goal is a ratio against baselines run in this same process:
//   - mirror: publish_build_workflows of a 401-file tree, full upload / the faster of
//     `lftp mirror -R --delete` and `rclone sync` (sftp backend), both with their defaults:
//     <= 0.1; after changing 8 files and deleting 2 (2%): <= 0.2.
//   - release: create_release_plan of 100 generated components (bench/releaseFixtures.ts)
//     over ssh:// remotes on that sshd, cold mirror cache / `git ls-remote` then
//     `git init --bare` + `git fetch` of each component one after the other: <= 0.06; with
//     nothing changed (the cache warm) / the same baseline: <= 0.03.
//   - big upload: a 1 GB file (generated here, never in tests) at RTT 40 ms and 200 Mbit/s,
//     our resumable sftp put (bench/sftpPut.ts, what publish_singularity runs) / size /
//     bandwidth: <= 1.1; `lftp put` and `rclone copyto` timed in the same run, for
//     information (their figures in the note).
// Every tool mirrors into a directory of its own on the same sshd; all three are checked to
// hold the local tree at the end. Every release run's plan is checked to read every
// component's version, and the baseline to have fetched every ref.
import { execFileSync, spawn } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { startSshd, type Sshd } from '../test/helpers/services.js'
import { startTcpProxy, type TcpProxy } from '../test/helpers/tcpProxy.js'
import { compare, median, type BenchLine } from './measure.js'
import { makeTree } from './benchTree.js'
import { makeComponents } from './releaseFixtures.js'
import { forgeAccount } from './gitForgeAccount.js'
import { parse } from 'yaml'

const root = fileURLToPath(new URL('../..', import.meta.url))
const bin = join(root, 'bin', 'casa_distro_admin.js')
/** Added each way by the proxy: RTT 40 ms. */
const DELAY_MS = 20

/** A known_hosts file naming the server by the proxy's port, so every client checks the host key. */
function proxyKnownHosts(work: string, sshd: Sshd, proxy: TcpProxy): string {
  const file = join(work, `known_hosts_${proxy.port}`)
  writeFileSync(file, `[127.0.0.1]:${proxy.port} ${sshd.hostKeyPublic.split(' ').slice(0, 2).join(' ')}\n`)
  return file
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await run()
  return performance.now() - started
}

/**
 * Run a command, its stderr as the result. Never spawnSync here: the proxy runs in this
 * process, and a blocked event loop would carry no byte.
 */
function run(argv: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (chunk) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (code) => (code === 0 ? resolve(stderr) : reject(new Error(`${argv.slice(0, 3).join(' ')} failed: ${stderr.slice(-400)}`))))
  })
}

async function mirrorLines(work: string, sshd: Sshd, proxy: TcpProxy): Promise<BenchLine[]> {
  const count = Number(process.env.CASA_BENCH_WAN_FILES ?? 400)
  const repo = join(work, 'repo')
  const workflow = join(repo, 'bench', 'master_ubuntu-22.04')
  const { bytes, files } = makeTree(workflow, count)
  const home = join(work, 'home')
  mkdirSync(home, { recursive: true })
  const knownHosts = proxyKnownHosts(work, sshd, proxy)
  const target = (tool: string) => join(sshd.root, 'wan-mirror', tool, 'bench', 'master_ubuntu-22.04')
  for (const tool of ['lftp', 'rclone']) mkdirSync(join(target(tool), '..'), { recursive: true })
  writeFileSync(
    join(repo, 'casa.config.ts'),
    `export default { hubs: { buildWorkflows: { upload: 'sftp://${sshd.user}@127.0.0.1:${proxy.port}${join(sshd.root, 'wan-mirror', 'ours')}' } }, ssh: { identityFile: '${sshd.clientKey}', knownHosts: '${knownHosts}' } }\n`,
  )
  const env = { ...process.env, HOME: home, CASA_CONFIG: join(repo, 'casa.config.ts'), SSH_AUTH_SOCK: '', NO_COLOR: '1', CI: 'true' }
  let report = ''
  const ours = () => timed(async () => (report = await run([process.execPath, bin, '-r', repo, 'publish_build_workflows'], env)))
  const ssh = `ssh -a -x -i ${sshd.clientKey} -o IdentitiesOnly=yes -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes`
  const lftp = () =>
    timed(() => run(['lftp', '-c', `set sftp:connect-program "${ssh}"; open -u ${sshd.user}, sftp://127.0.0.1:${proxy.port}; mirror -R --delete ${workflow} ${target('lftp')}`], env))
  // an on-the-fly sftp remote: no rclone.conf, the same key and known_hosts
  const rcloneRemote = `:sftp,host=127.0.0.1,port=${proxy.port},user=${sshd.user},key_file=${sshd.clientKey},known_hosts_file=${knownHosts}:${target('rclone')}`
  const rclone = () => timed(() => run(['rclone', '--config', join(work, 'rclone.conf'), 'sync', workflow, rcloneRemote], env))
  const figures: Record<string, number[]> = { lftp: [], rclone: [] }
  const fasterBaseline = async () => {
    const l = await lftp()
    const r = await rclone()
    figures.lftp!.push(l)
    figures.rclone!.push(r)
    return Math.min(l, r)
  }
  const note = () => {
    const text = `lftp ${median(figures.lftp!).toFixed(0)} ms, rclone ${median(figures.rclone!).toFixed(0)} ms`
    figures.lftp = []
    figures.rclone = []
    return text
  }

  const lines: BenchLine[] = []
  const full = await compare(`full upload of ${count + 1} files (${(bytes / 1e6).toFixed(0)} MB) at RTT ${2 * DELAY_MS} ms vs the faster of lftp mirror -R --delete and rclone sync`, ours, fasterBaseline, { runs: 1, goal: 0.1 })
  lines.push({ ...full, note: `${note()}; ours: ${/\d+ uploaded \([^)]+\)/.exec(report)?.[0]}` })

  // 2% of the files changed (new content, half with another size), 0.5% deleted
  let round = 0
  const changed = Math.round(files.length / 50)
  const change = () => {
    round++
    for (let i = 0; i < changed; i++) {
      const file = join(workflow, files[(i * 53 + round * 7) % files.length]!)
      const data = existsSync(file) ? readFileSync(file) : Buffer.from('0 recreated\n')
      writeFileSync(file, i % 2 ? Buffer.concat([data, Buffer.from(`changed ${round}\n`)]) : Buffer.from(data.toString('latin1').replace(/^\d+/, `${round}`), 'latin1'))
    }
    for (let i = 0; i < Math.max(1, Math.round(files.length / 200)); i++) rmSync(join(workflow, files[(round * 11 + i * 197) % files.length]!), { force: true })
  }
  const update = await compare(
    `${changed} files changed and ${Math.max(1, Math.round(files.length / 200))} deleted at RTT ${2 * DELAY_MS} ms vs the faster of lftp and rclone`,
    () => (change(), ours()),
    fasterBaseline,
    { runs: 5, goal: 0.2 },
  )
  lines.push({ ...update, note: `${note()}; ours: ${/\d+ uploaded \([^)]+\), \d+ deleted/.exec(report)?.[0]}` })

  const listing = (dir: string) => execFileSync('find', ['.', '-type', 'f', '-not', '-name', '.*'], { cwd: dir, encoding: 'utf8' }).split('\n').sort().join('\n')
  const expected = listing(workflow)
  for (const tool of ['ours', 'lftp', 'rclone']) if (listing(target(tool)) !== expected) throw new Error(`the mirror made by ${tool} differs from the local tree`)
  return lines
}

async function releaseLines(work: string, sshd: Sshd, proxy: TcpProxy): Promise<BenchLine[]> {
  const count = Number(process.env.CASA_BENCH_WAN_COMPONENTS ?? 100)
  // served as a forge serves them: by an account of their own whose shell is git-shell
  const account = forgeAccount()
  const remotes = join(sshd.root, 'wan-remotes')
  const components = makeComponents(remotes, count).map((c) => ({
    ...c,
    url: `ssh://${account.name}@127.0.0.1:${proxy.port}${fileURLToPath(c.url)}`,
  }))
  account.own(remotes)
  const repo = join(work, 'release-repo')
  const home = join(work, 'release-home')
  mkdirSync(repo, { recursive: true })
  mkdirSync(home, { recursive: true })
  const list = components.map(({ project, name, url }) => ({ project, name, url }))
  writeFileSync(join(repo, 'casa.config.ts'), `export default { releasePlan: { components: ${JSON.stringify(list)} } }\n`)
  const knownHosts = proxyKnownHosts(work, sshd, proxy)
  // the user's key and known_hosts, as ~/.ssh/config would give them
  const sshCommand = `ssh -i ${sshd.clientKey} -o IdentitiesOnly=yes -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes`
  const env = { ...process.env, HOME: home, XDG_CACHE_HOME: join(home, '.cache'), CASA_CONFIG: join(repo, 'casa.config.ts'), NO_COLOR: '1', CI: 'true', SSH_AUTH_SOCK: '', GIT_SSH_COMMAND: sshCommand, GIT_TERMINAL_PROMPT: '0' }
  const planFile = join(repo, 'release_plan.yaml')
  const ours = async () => {
    rmSync(planFile, { force: true })
    const ms = await timed(() => run([process.execPath, bin, '-r', repo, 'create_release_plan'], env))
    const plan = parse(readFileSync(planFile, 'utf8')) as Record<string, Record<string, { bug_fix?: { version?: string } }>>
    for (const c of components) if (plan[c.project]?.[c.name]?.bug_fix?.version !== c.bugFixVersion) throw new Error(`${c.name}: the plan says ${JSON.stringify(plan[c.project]?.[c.name]?.bug_fix)}, expected ${c.bugFixVersion}`)
    return ms
  }
  const cold = () => {
    rmSync(join(repo, '.release-plan-cache'), { recursive: true, force: true })
    return ours()
  }
  const fetched = join(work, 'release-baseline')
  const baseline = async () => {
    rmSync(fetched, { recursive: true, force: true })
    const ms = await timed(async () => {
      for (const c of components) {
        const dir = join(fetched, `${c.name}.git`)
        await run(['git', 'ls-remote', '--quiet', c.url], env)
        await run(['git', 'init', '--quiet', '--bare', dir], env)
        await run(['git', '-C', dir, 'fetch', '--quiet', c.url, '+refs/*:refs/*'], env)
      }
    })
    const refs = execFileSync('git', ['-C', join(fetched, `${components[0]!.name}.git`), 'for-each-ref'], { encoding: 'utf8' }).trim().split('\n')
    if (refs.length !== components[0]!.refCount) throw new Error(`the baseline fetched ${refs.length} refs, not ${components[0]!.refCount}`)
    return ms
  }
  const connections = async (what: () => Promise<number>) => {
    const before = proxy.stats.connections
    const ms = await what()
    return { ms, connections: proxy.stats.connections - before }
  }
  // one baseline run (a hundred handshakes twice over), ours alternated around it
  const base = await connections(baseline)
  const oursCold = await connections(cold)
  const oursWarm = await connections(ours)
  const line = (name: string, ours: { ms: number; connections: number }, goal: number): BenchLine => ({
    name,
    ours: ours.ms,
    baseline: base.ms,
    unit: 'ms',
    ratio: ours.ms / base.ms,
    goal,
    note: `TCP connections to the server: ours ${ours.connections}, baseline ${base.connections}; server account ${account.description}`,
  })
  return [
    line(`create_release_plan, ${count} components over ssh:// at RTT ${2 * DELAY_MS} ms, cold vs git ls-remote + init --bare + fetch each, one after the other`, oursCold, 0.06),
    line(`create_release_plan, ${count} components over ssh:// at RTT ${2 * DELAY_MS} ms, nothing changed vs the same baseline`, oursWarm, 0.03),
  ]
}

async function bigUploadLines(work: string, sshd: Sshd): Promise<BenchLine[]> {
  const size = Number(process.env.CASA_BENCH_WAN_BIG_MB ?? 1000) * 1e6
  const bandwidth = 25e6 // 200 Mbit/s
  const proxy = await startTcpProxy({ targetPort: sshd.port, delayMs: DELAY_MS, bandwidth, lifetimeMs: 60 * 60_000 })
  try {
    // incompressible and cheap to make: 16 MiB of random bytes over and over
    const file = join(work, 'big.sif')
    const block = randomBytes(16 << 20)
    const out = openSync(file, 'w')
    for (let written = 0; written < size; written += block.length) writeSync(out, block, 0, Math.min(block.length, size - written))
    closeSync(out)
    const md5 = createHash('md5')
    for (let at = 0; at < size; at += block.length) md5.update(block.subarray(0, Math.min(block.length, size - at)))
    const sum = md5.digest('hex')
    const knownHosts = proxyKnownHosts(work, sshd, proxy)
    const env = { ...process.env, SSH_AUTH_SOCK: '', HOME: join(work, 'home') }
    mkdirSync(env.HOME, { recursive: true })
    const dest = join(sshd.root, 'wan-big')
    mkdirSync(dest, { recursive: true })
    const ours = await timed(() => run([process.execPath, join(root, 'dist', 'bench', 'sftpPut.js'), `sftp://${sshd.user}@127.0.0.1:${proxy.port}${dest}`, sshd.clientKey, knownHosts, file, 'ours.sif', sum], env))
    if (statSync(join(dest, 'ours.sif')).size !== size) throw new Error('our upload is not whole')
    const ssh = `ssh -a -x -i ${sshd.clientKey} -o IdentitiesOnly=yes -o UserKnownHostsFile=${knownHosts} -o StrictHostKeyChecking=yes -o BatchMode=yes`
    const lftp = await timed(() => run(['lftp', '-c', `set sftp:connect-program "${ssh}"; open -u ${sshd.user}, sftp://127.0.0.1:${proxy.port}; put ${file} -o ${join(dest, 'lftp.sif')}`], env))
    const rcloneRemote = `:sftp,host=127.0.0.1,port=${proxy.port},user=${sshd.user},key_file=${sshd.clientKey},known_hosts_file=${knownHosts}:${join(dest, 'rclone.sif')}`
    const rclone = await timed(() => run(['rclone', '--config', join(work, 'rclone.conf'), 'copyto', file, rcloneRemote], env))
    const floor = (size / bandwidth) * 1000
    return [
      {
        name: `${(size / 1e9).toFixed(1)} GB resumable sftp upload at RTT ${2 * DELAY_MS} ms and 200 Mbit/s vs size / bandwidth`,
        ours,
        baseline: floor,
        unit: 'ms',
        ratio: ours / floor,
        goal: 1.1,
        note: `lftp put ${lftp.toFixed(0)} ms (${(lftp / floor).toFixed(2)}), rclone copyto ${rclone.toFixed(0)} ms (${(rclone / floor).toFixed(2)}); ours includes the md5 check on the server`,
      },
    ]
  } finally {
    await proxy.stop()
  }
}

export default async function (): Promise<BenchLine[]> {
  const sshd = await startSshd({ otherUsers: true })
  const proxy = await startTcpProxy({ targetPort: sshd.port, delayMs: DELAY_MS, lifetimeMs: 60 * 60_000 })
  const work = mkdtempSync(join(tmpdir(), 'casa-bench-wan-'))
  try {
    const only = process.env.CASA_BENCH_WAN_ONLY // mirror, big or release: one part alone
    const part = (name: string) => !only || only === name
    return [
      ...(part('mirror') ? await mirrorLines(work, sshd, proxy) : []),
      ...(part('big') ? await bigUploadLines(work, sshd) : []),
      ...(part('release') ? await releaseLines(work, sshd, proxy) : []),
    ]
  } finally {
    await proxy.stop()
    await sshd.stop()
    rmSync(work, { recursive: true, force: true })
  }
}
