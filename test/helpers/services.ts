// Real services for tests, on 127.0.0.1: the Docker engine, the reference registry
// ("distribution"), OpenSSH's sshd, and a static HTTP server. Each start* returns a handle
// whose stop() the test registers with t.teardown. Nothing here is a mock.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, copyFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join, normalize } from 'node:path'
import { mkdtempSync, rmSync } from 'node:fs'
import { projectRoot } from './cli.js'
import { freePort, waitForPort } from './net.js'

const sh = (cmd: string, args: string[], input?: string) =>
  execFileSync(cmd, args, { encoding: 'utf8', input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] })

function stopProcess(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), 5000).unref()
  })
}

/** Start dockerd unless an engine already answers (scripts/start-dockerd.sh, shared with CI). */
export function ensureDocker(): void {
  sh('bash', [join(projectRoot, 'scripts', 'start-dockerd.sh')])
}

export const busyboxBase = 'casa-test-base/busybox:1'

/**
 * A tiny base image built locally from Debian's static busybox (nothing can be pulled here).
 * Built once per engine; concurrent test files share it.
 */
export function ensureBusyboxImage(tag: string = busyboxBase): string {
  ensureDocker()
  try {
    sh('docker', ['image', 'inspect', tag])
    return tag
  } catch {
    // not built yet
  }
  const context = mkdtempSync(join(tmpdir(), 'casa-busybox-'))
  try {
    copyFileSync('/bin/busybox', join(context, 'busybox'))
    writeFileSync(
      join(context, 'Dockerfile'),
      ['FROM scratch', 'COPY busybox /bin/busybox', 'RUN ["/bin/busybox", "--install", "-s", "/bin"]', 'ENV PATH=/usr/local/bin:/usr/bin:/bin', 'CMD ["/bin/sh"]', ''].join('\n'),
    )
    sh('docker', ['build', '--network=host', '-q', '-t', tag, context])
  } finally {
    rmSync(context, { recursive: true, force: true })
  }
  return tag
}

export interface Registry {
  /** `127.0.0.1:PORT` */
  host: string
  port: number
  storage: string
  auth?: { user: string; password: string }
  stop(): Promise<void>
}

/** Where a service keeps its state: a fresh temporary directory removed on stop, or `dir`, kept (the demo). */
export interface ServiceOptions {
  dir?: string
  port?: number
}

function serviceDir(options: ServiceOptions, prefix: string): { dir: string; removeOnStop: boolean } {
  if (!options.dir) return { dir: mkdtempSync(join(tmpdir(), prefix)), removeOnStop: true }
  mkdirSync(options.dir, { recursive: true })
  return { dir: options.dir, removeOnStop: false }
}

/** The reference registry (Debian's docker-registry) on a random port, optionally with htpasswd auth. */
export async function startRegistry(options: ServiceOptions & { auth?: { user: string; password: string } } = {}): Promise<Registry> {
  const { dir, removeOnStop } = serviceDir(options, 'casa-registry-')
  const port = options.port ?? (await freePort())
  const storage = join(dir, 'storage')
  mkdirSync(storage, { recursive: true })
  const lines = [
    'version: 0.1',
    'log: { level: error }',
    `storage: { filesystem: { rootdirectory: ${storage} }, delete: { enabled: true } }`,
    `http: { addr: 127.0.0.1:${port}, secret: test-secret-${port} }`,
  ]
  if (options.auth) {
    const entry = sh('htpasswd', ['-Bbn', options.auth.user, options.auth.password])
    writeFileSync(join(dir, 'htpasswd'), entry)
    lines.push(`auth: { htpasswd: { realm: casa-test, path: ${join(dir, 'htpasswd')} } }`)
  }
  writeFileSync(join(dir, 'config.yml'), `${lines.join('\n')}\n`)
  const child = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr!.on('data', (c) => (log += c))
  try {
    await waitForPort(port)
  } catch (error) {
    await stopProcess(child)
    throw new Error(`docker-registry did not start: ${log.slice(-500)}`)
  }
  return {
    host: `127.0.0.1:${port}`,
    port,
    storage,
    auth: options.auth,
    stop: async () => {
      await stopProcess(child)
      if (removeOnStop) rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface Sshd {
  host: '127.0.0.1'
  port: number
  user: string
  /** Private key accepted by the server. */
  clientKey: string
  /** A known_hosts file holding the server's host key for [127.0.0.1]:PORT. */
  knownHosts: string
  /** The server's public host key line. */
  hostKeyPublic: string
  /** A directory on the server side for the test to use (the server sees the same files). */
  root: string
  /** Kill the processes serving the open connections (the server keeps listening): a connection lost mid-run. */
  dropConnections(): void
  stop(): Promise<void>
}

/**
 * OpenSSH sshd on a loopback port, key authentication only; host and client keys are made once
 * per state directory (a fresh one unless `dir` is given).
 */
export interface SshdOptions extends ServiceOptions {
  /**
   * SFTP requests the server refuses (internal-sftp -P, names from `sftp-server -Q requests`),
   * to play servers without OpenSSH's extensions or that forbid links.
   */
  sftpDenied?: string[]
  /**
   * Let accounts other than the test runner's log in with the client key (a git forge's
   * account, bench/gitForgeAccount.ts): the state directory becomes traversable (0711) and
   * authorized_keys readable, which sshd reads as the user logging in. The private keys stay 0600.
   */
  otherUsers?: boolean
}

/** The processes below `pid`, from /proc (the parent pid is the fourth field of /proc/<pid>/stat). */
function descendants(pid: number): number[] {
  const parents = new Map<number, number[]>()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    let stat
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8')
    } catch {
      continue // ended meanwhile
    }
    // the command name, in parentheses, may hold spaces: the fields after its last `)`
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
    parents.set(parent, [...(parents.get(parent) ?? []), Number(name)])
  }
  const found: number[] = []
  for (let todo = [pid]; todo.length > 0; ) {
    const children = parents.get(todo.pop()!) ?? []
    found.push(...children)
    todo.push(...children)
  }
  return found
}

export async function startSshd(options: SshdOptions = {}): Promise<Sshd> {
  const { dir, removeOnStop } = serviceDir(options, 'casa-sshd-')
  const port = options.port ?? (await freePort())
  const user = sh('id', ['-un']).trim()
  const hostKey = join(dir, 'host_ed25519')
  const clientKey = join(dir, 'client_ed25519')
  for (const key of [hostKey, clientKey]) if (!existsSync(key)) sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key])
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`))
  if (options.otherUsers) {
    chmodSync(dir, 0o711)
    chmodSync(join(dir, 'authorized_keys'), 0o644)
  }
  const hostKeyPublic = readFileSync(`${hostKey}.pub`, 'utf8').trim()
  const knownHosts = join(dir, 'known_hosts')
  writeFileSync(knownHosts, `[127.0.0.1]:${port} ${hostKeyPublic.split(' ').slice(0, 2).join(' ')}\n`)
  const root = join(dir, 'srv')
  mkdirSync(root, { recursive: true })
  mkdirSync('/run/sshd', { recursive: true })
  writeFileSync(
    join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      `Subsystem sftp internal-sftp${options.sftpDenied?.length ? ` -P ${options.sftpDenied.join(',')}` : ''}`,
      'LogLevel ERROR',
      '',
    ].join('\n'),
  )
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  child.stderr!.on('data', (c) => (log += c))
  try {
    await waitForPort(port)
  } catch {
    await stopProcess(child)
    throw new Error(`sshd did not start: ${log.slice(-500)}`)
  }
  return {
    host: '127.0.0.1',
    port,
    user,
    clientKey,
    knownHosts,
    hostKeyPublic,
    root,
    dropConnections: () => {
      // every process below the listener, by pid: each connection is served by a child and its own children
      for (const pid of descendants(child.pid!)) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // ended meanwhile
        }
      }
    },
    stop: async () => {
      await stopProcess(child)
      if (removeOnStop) rmSync(dir, { recursive: true, force: true })
    },
  }
}

export interface HttpServer {
  url: string
  stop(): Promise<void>
}

/** A static file server over `dir` (download URLs of published files). */
export async function startHttpServer(dir: string, options: { port?: number } = {}): Promise<HttpServer> {
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '')
    const file = join(dir, path)
    if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end('not found')
      return
    }
    response.writeHead(200, { 'content-length': statSync(file).size })
    createReadStream(file).pipe(response)
  })
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
