// sftp:// hubs through ssh2, in-process (no ssh/lftp child, no password prompt). Keys come
// from ssh-agent ($SSH_AUTH_SOCK) or ssh.identityFile; the host key must be in known_hosts
// (ssh.knownHosts or ~/.ssh/known_hosts): unknown or changed keys are refused with one line.
// Writes go to a temporary name in the target directory, then posix-rename@openssh.com
// replaces the target atomically (plain rename where the server lacks that extension).
// ssh2 carries the SSH connection; SFTP itself is spoken by sftpSession (see why there).
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { connect } from 'node:net'
import { posix } from 'node:path'
import type { Duplex } from 'node:stream'
import type { Client, ConnectConfig } from 'ssh2'
import { UserError, cannotRead, errorMessage } from '../util/errors.js'
import type { HubLocation } from './hubUrl.js'
import { onInterrupt } from '../util/interrupt.js'
import { SFTP_STATUS, SftpSession, type SftpAttrs, type SftpEntry } from './sftpSession.js'
import { signAtOnce } from './sshSignAtOnce.js'
import { blobType, checkHostKey, fingerprint, knownHostsName, knownKeys, type HostKeyVerdict } from './knownHosts.js'
import { home } from '../util/paths.js'
import { madeDirectoriesAround, resumableName, temporaryName, type Hub, type HubEntry, type PutOptions, type SshOptions } from './hub.js'
import { printable, ui } from '../util/ui.js'
import { envSeconds } from '../util/envSeconds.js'

type SftpLocation = Extract<HubLocation, { scheme: 'sftp' }>

const NO_SUCH_FILE = SFTP_STATUS.NO_SUCH_FILE
/** Files up to this size are uploaded from one buffer with pipelined requests, larger ones streamed. */
const SMALL_FILE = 256 * 1024
/**
 * Large files are read and sent by blocks of BLOCK bytes, BLOCKS_ON_THE_WIRE at most waiting
 * for their answer: 2 MiB, OpenSSH's channel window. In flight data bounds an upload over a
 * long link: through the proxy adding 20 ms each way (test/helpers/tcpProxy.ts), 100 MB took
 * 5.5 s with 1 MiB and 3.8 s with 2 MiB, and at 200 Mbit/s 7.9 s against 6.7 s. (With ssh2's
 * SFTP client, anything above half the window stalled on loopback; with sftpSession, 4 and 8
 * blocks are within the noise there: 100 MB in 1.8 to 2.4 s either way.)
 */
const BLOCK = 256 * 1024
const BLOCKS_ON_THE_WIRE = 8
/** Large files streamed at once, whatever the number of uploads: memory stays under 8 MiB for them. */
const LARGE_AT_ONCE = 4
const sftpCode = (error: unknown) => (error as { code?: number })?.code
/** Keepalive probes unanswered before the server is given up (ssh2's count: the error comes at the one after). */
const KEEPALIVES_MISSED = 3

/**
 * How long a server may stay silent, in seconds (CASA_SFTP_TIMEOUT, 60 by default): a
 * keepalive goes every quarter of it, and the fourth one unanswered ends the connection. A
 * link that stalls (packets lost, a NAT that forgot us) would otherwise hold a run forever.
 */
export function sftpTimeoutSeconds(env: NodeJS.ProcessEnv = process.env): number {
  return envSeconds('CASA_SFTP_TIMEOUT', 60, UserError, env)
}

function typeOf(mode: number): HubEntry['type'] {
  switch (mode & 0o170000) {
    case 0o100000:
      return 'file'
    case 0o040000:
      return 'dir'
    case 0o120000:
      return 'symlink'
    default:
      return 'other'
  }
}

/** The identity to offer: the configured key file, else the agent, else OpenSSH's default key files. */
function credentials(ssh: SshOptions): { privateKey?: Buffer; agent?: string; tried: string } {
  const agent = process.env.SSH_AUTH_SOCK || undefined
  if (ssh.identityFile) {
    let privateKey: Buffer
    try {
      privateKey = readFileSync(ssh.identityFile)
    } catch (error) {
      throw new UserError(printable(`cannot read ssh.identityFile ${ssh.identityFile}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`))
    }
    return { privateKey, agent, tried: `key ${ssh.identityFile}${agent ? ' and ssh-agent' : ''}` }
  }
  if (agent) return { agent, tried: 'ssh-agent keys' }
  const fallback = ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => posix.join(home(), '.ssh', n)).find((f) => existsSync(f))
  if (fallback) return { privateKey: readFileSync(fallback), tried: `key ${fallback}` }
  throw new UserError('no SSH key: start ssh-agent and ssh-add your key, or set ssh.identityFile in casa.config.ts')
}

export async function openSftpHub(url: string, location: SftpLocation, ssh: SshOptions): Promise<Hub> {
  const { host, port, user, root } = location
  const where = `${user}@${knownHostsName(host, port)}`
  const knownHostsFile = ssh.knownHosts ?? posix.join(home(), '.ssh', 'known_hosts')
  const known = knownKeys(knownHostsFile, host, port)
  const auth = credentials(ssh)
  const timeout = sftpTimeoutSeconds()
  // Connect first, load ssh2 (tens of ms) after: the server forks and sends its banner meanwhile.
  // No Nagle from the first byte: the handshake and the SFTP requests are small packets that
  // each wait for an answer, and Nagle's algorithm held one back until the server's delayed
  // ACK (40 ms on Linux) right after the key exchange.
  const socket = connect({ host, port, noDelay: true })
  let socketError: (Error & { code?: string }) | undefined
  let socketClosed = false
  socket.once('error', (error) => (socketError = error))
  socket.once('close', () => (socketClosed = true))
  const { default: ssh2 } = await import('ssh2')
  if (socketError || socketClosed) {
    socket.destroy()
    // closed with no error: something listens there, but not an SSH server that takes us
    throw socketError ? cannotConnect(host, port, socketError) : new UserError(`sftp://${where}: the server closed the connection before the SSH handshake`)
  }
  const client: Client = new ssh2.Client()
  let verdict: (HostKeyVerdict & { blob: Buffer }) | undefined

  const hostKeyMessage = (v: NonNullable<typeof verdict>) => {
    const seen = `${blobType(v.blob)} ${fingerprint(v.blob)}`
    const name = knownHostsName(host, port)
    if (v.ok) return ''
    if (v.reason === 'unknown')
      return `host key of ${name} (${seen}) is not in ${knownHostsFile}: check it with the server's admin, then add it: ssh-keyscan${port === 22 ? '' : ` -p ${port}`} ${host} >> ${knownHostsFile}`
    if (v.reason === 'revoked') return `host key of ${name} (${seen}) is marked @revoked in ${knownHostsFile}:${v.line}: refusing to connect`
    return `host key of ${name} has CHANGED (server sent ${seen}, ${knownHostsFile}:${v.line} holds another): refusing to connect; if the change is expected, run ssh-keygen -R '${name}' -f ${knownHostsFile} and add the new key`
  }

  // Ask first for the key types known_hosts holds, as OpenSSH does, so a server with several
  // host keys shows the one we can check.
  const knownTypes = [...new Set(known.filter((k) => !k.revoked).map((k) => k.type))]
  const defaultHostKeyTypes = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']
  const config: ConnectConfig = {
    sock: socket,
    host,
    port,
    username: user,
    readyTimeout: Math.min(20, timeout) * 1000,
    keepaliveInterval: (timeout * 1000) / (KEEPALIVES_MISSED + 1),
    keepaliveCountMax: KEEPALIVES_MISSED,
    ...(auth.privateKey ? { privateKey: auth.privateKey } : {}),
    ...(auth.agent ? { agent: auth.agent } : {}),
    // straight to our keys: ssh2 would first try `none`, a round trip (10 ms here) to learn
    // the methods the server takes, when a key is all we have anyway
    authHandler: [...(auth.privateKey ? ['publickey'] : []), ...(auth.agent ? ['agent'] : [])] as never,
    algorithms: { serverHostKey: [...knownTypes.filter((t) => defaultHostKeyTypes.includes(t)), ...defaultHostKeyTypes.filter((t) => !knownTypes.includes(t))] as never },
    hostVerifier: (key: Buffer) => {
      verdict = { ...checkHostKey(known, key), blob: key }
      return verdict.ok
    },
  }

  ui.debug(printable(`connecting to sftp://${where} (known hosts: ${knownHostsFile}; ${auth.tried})`))
  const sftp = await new Promise<SftpSession>((resolve, reject) => {
    client.once('ready', () => {
      client.subsys('sftp', (error, channel) => {
        if (error) return reject(new UserError(`sftp://${where}: the server has no sftp subsystem: ${error.message}`))
        // OpenSSH takes SYMLINK's paths in reverse order: sftpSession needs to know who serves
        const openSsh = /^OpenSSH_/.test((client as unknown as { _remoteVer?: string })._remoteVer ?? '')
        SftpSession.open(channel as unknown as Duplex, { openSsh }).then(resolve, (failure: Error) => reject(new UserError(`sftp://${where}: ${failure.message}`)))
      })
    })
    // `on`, not `once`: ssh2 may emit a second error (a lost connection after a timeout, a
    // failed agent then a failed authentication), and an error without a listener is a crash.
    // The first one decides the message; the promise ignores the others.
    client.once('close', () => reject(new UserError(`sftp://${where}: the server closed the connection during the SSH handshake`)))
    client.on('error', (error: Error & { level?: string; code?: string }) => {
      ui.debug(`sftp://${where}: ${error.message}${error.level ? ` (${error.level})` : ''}`)
      if (verdict && !verdict.ok) return reject(new UserError(printable(hostKeyMessage(verdict))))
      if (error.level === 'client-authentication') return reject(new UserError(printable(`sftp://${where}: the server refused ${auth.tried} for user ${user}`)))
      if (error.level === 'client-timeout') return reject(new UserError(`sftp://${where}: no answer (timed out)`))
      if (error.level === 'agent') return reject(new UserError(`sftp://${where}: ssh-agent failed: ${error.message}`))
      if (/^Connection lost before handshake/.test(error.message)) return reject(new UserError(`sftp://${where}: the server closed the connection during the SSH handshake`))
      if (error.code) return reject(cannotConnect(host, port, error))
      reject(new UserError(`sftp://${where}: ${error.message}`))
    })
    try {
      client.connect(config)
      signAtOnce(client)
    } catch (error) {
      // ssh2 parses the key synchronously: an encrypted or malformed key ends here (the message names no secret)
      const message = errorMessage(error)
      reject(new UserError(printable(/passphrase/i.test(message) ? `${ssh.identityFile}: the key is encrypted: load it into ssh-agent (ssh-add) instead` : `cannot use ${auth.tried}: ${message}`)))
    }
  })

  const at = (path: string) => (path === '' || path === '.' ? root : root === '.' ? path : posix.join(root, path))
  // a remote path as a hub URL the user could have written (`where` is known_hosts' [host]:port form)
  const hostPort = `${host.includes(':') ? `[${host}]` : host}${port === 22 ? '' : `:${port}`}`
  const urlOf = (remotePath: string) => `sftp://${user}@${hostPort}${remotePath.startsWith('/') ? '' : '/~/'}${remotePath}`
  // control characters escaped, in the path and in the server's message that may repeat it
  const fail = (what: string, path: string, error: unknown) => new UserError(printable(`${what} ${urlOf(at(path))}: ${errorMessage(error)}`))
  // sha256sum on the server, unless the account is sftp-only (ssh.remoteCommands: false)
  const remoteCommands = ssh.remoteCommands !== false
  const hasPosixRename = sftp.extensions.has('posix-rename@openssh.com')

  /**
   * What stands where a directory is expected, when it is not one: `a file`, or a link that
   * leads to a file or to nothing. Undefined for a directory or a link to one (followed, as
   * OpenSSH's sftp does). One more round trip, only for a link.
   */
  const notADirectory = async (path: string, found: SftpAttrs): Promise<string | undefined> => {
    const type = typeOf(found.mode ?? 0)
    if (type === 'dir') return undefined
    if (type === 'file') return 'a file'
    if (type !== 'symlink') return 'a special file'
    const target = await sftp.stat(path)
    if (!target) return 'a link to nothing'
    return typeOf(target.mode ?? 0) === 'dir' ? undefined : 'a link to a file'
  }
  const notADirectoryMessage = (path: string, what: string) => `${printable(urlOf(path))} is ${what} where a directory is expected`
  /**
   * For a directory the server says does not exist: the nearest existing path above it (itself
   * included) when that is no directory. Error paths only: a round trip per level.
   */
  const blockerAbove = async (path: string): Promise<string | undefined> => {
    for (let dir = path; ; dir = posix.dirname(dir)) {
      const found = await sftp.lstat(dir)
      if (found) {
        const what = await notADirectory(dir, found)
        return what && notADirectoryMessage(dir, what)
      }
      if (dir === posix.dirname(dir)) return undefined
    }
  }

  /** Directories known to exist (made or found), so that each costs one round trip per run. */
  const madeDirs = new Map<string, Promise<void>>()
  /** The directories this connection created (not those it found): a failed run removes the empty ones. */
  const createdDirs = new Set<string>()
  /**
   * Forget that `dir` and the directories above it exist: the server just said one is gone (a
   * failed run's cleanup removed, empty, a directory we had found). Error paths only.
   */
  const forgetDirectories = (dir: string) => {
    for (let d = dir; ; d = posix.dirname(d)) {
      madeDirs.delete(d)
      if (d === posix.dirname(d)) return
    }
  }
  const mkdirp = (dir: string): Promise<void> => {
    if (dir === '.' || dir === '/' || dir === '') return Promise.resolve()
    let made = madeDirs.get(dir)
    if (!made) {
      made = (async () => {
        const found = await sftp.lstat(dir)
        if (found) {
          // a file there, or a link to one or to nothing: say so, not the "No such file" of
          // the write into it that follows
          const what = await notADirectory(dir, found)
          if (what) throw new UserError(notADirectoryMessage(dir, what))
          return
        }
        const parent = posix.dirname(dir)
        const make = async () => {
          await mkdirp(parent)
          await sftp.mkdir(dir).then(() => void createdDirs.add(dir))
        }
        // lost a race with another mkdir: fine if it exists now. Else name this directory:
        // the caller would blame the file it was about to write in it.
        const refused = async (error: unknown) => {
          if (error instanceof UserError) throw error
          if (!(await sftp.lstat(dir))) throw new UserError(printable(`cannot create directory ${urlOf(dir)}: ${errorMessage(error)}`))
        }
        await make().catch(async (error) => {
          if (sftpCode(error) !== NO_SUCH_FILE || (await sftp.lstat(dir))) return refused(error)
          // the parent, seen a moment ago, is gone (another run's cleanup): once more from the top
          forgetDirectories(parent)
          await make().catch(refused)
        })
      })()
      madeDirs.set(dir, made)
      made.catch(() => madeDirs.delete(dir))
    }
    return made
  }

  /** Replace `target` by `temp`, atomically where the server supports posix-rename. */
  const renameOver = async (temp: string, target: string) => {
    if (hasPosixRename) return sftp.posixRename(temp, target)
    await sftp.rename(temp, target).catch(async () => {
      await sftp.remove(target).catch(() => undefined)
      await sftp.rename(temp, target)
    })
  }

  /** Write into a temporary name with `write`, then rename onto `path`; creates missing directories. */
  const atomically = async (path: string, write: (temp: string) => Promise<void>) => {
    const target = at(path)
    const temp = temporaryName(target)
    const removeTemp = () => sftp.remove(temp).catch(() => undefined)
    const forget = onInterrupt(removeTemp)
    try {
      try {
        await write(temp)
      } catch (error) {
        if (sftpCode(error) !== NO_SUCH_FILE) throw error
        forgetDirectories(posix.dirname(target)) // taken as there, it may have been removed since
        await mkdirp(posix.dirname(target))
        await write(temp)
      }
      await renameOver(temp, target)
    } catch (error) {
      await removeTemp()
      throw error instanceof UserError ? error : fail('cannot write', path, error)
    } finally {
      forget()
    }
  }

  /** Open, write, set times, close: the last three pipelined on the handle (the server handles them in order). */
  const writeSmall = async (temp: string, data: Buffer, options: PutOptions) => {
    await writeAndClose(await sftp.openForWrite(temp, options.mode ?? 0o644), data, options)
  }
  const writeAndClose = async (handle: Buffer, data: Buffer, options: PutOptions) => {
    const pending = [sftp.write(handle, 0, data)]
    if (options.mtime !== undefined) pending.push(sftp.fsetstat(handle, { mtime: options.mtime }))
    pending.push(sftp.close(handle))
    const results = await Promise.allSettled(pending)
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure) throw failure.reason
  }

  /**
   * Large files streaming at once: each holds BLOCK x BLOCKS_ON_THE_WIRE bytes in memory, and
   * a mirror runs many uploads at once (`uploads`, for the round trips of small files).
   */
  let largeSlots = LARGE_AT_ONCE
  const waitingForLarge: (() => void)[] = []
  const largeSlot = async (): Promise<() => void> => {
    if (largeSlots > 0) largeSlots--
    else await new Promise<void>((resolve) => waitingForLarge.push(resolve))
    return () => {
      const next = waitingForLarge.shift()
      if (next) next()
      else largeSlots++
    }
  }
  const writeLarge = async (temp: string, localFile: string, options: PutOptions, from = 0) => {
    const release = await largeSlot()
    try {
      await streamLarge(temp, localFile, options, from)
    } finally {
      release()
    }
  }
  /** A large file streamed by blocks from byte `from` (0: a new file), the next ones read while the last ones are on the wire. */
  const streamLarge = async (temp: string, localFile: string, options: PutOptions, from: number) => {
    const handle = from > 0 ? await sftp.openToContinue(temp) : await sftp.openForWrite(temp, options.mode ?? 0o644)
    const file = await open(localFile, 'r').catch(async (error) => {
      sftp.close(handle).catch(() => undefined)
      throw cannotRead(localFile, error)
    })
    let closed = false
    try {
      const size = (await file.stat()).size
      let offset = from
      let sent = from
      const onTheWire: Promise<void>[] = []
      for (;;) {
        const block = Buffer.allocUnsafe(BLOCK)
        const { bytesRead } = await file.read(block, 0, BLOCK, offset).catch((error) => Promise.reject(cannotRead(localFile, error)))
        if (bytesRead === 0) break
        const sending = sftp.write(handle, offset, block.subarray(0, bytesRead)).then(() => options.onProgress?.((sent += bytesRead), size))
        sending.catch(() => undefined) // awaited below
        onTheWire.push(sending)
        offset += bytesRead
        if (onTheWire.length >= BLOCKS_ON_THE_WIRE) await onTheWire.shift()
      }
      // Times and close right behind the last block, not a round trip after it: the server
      // handles them in order, and the rename that follows waits for every answer (a failed
      // write is never renamed into place).
      const last = [...onTheWire, ...(options.mtime !== undefined ? [sftp.fsetstat(handle, { mtime: options.mtime })] : []), sftp.close(handle)]
      closed = true
      const results = await Promise.allSettled(last)
      const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
      if (failure) throw failure.reason
    } finally {
      await file.close()
      if (!closed) sftp.close(handle).catch(() => undefined)
    }
  }

  /** md5 of a file on the server (`md5sum` run there), or undefined when it cannot say. */
  const remoteMd5 = async (path: string): Promise<string | undefined> => {
    const command = `md5sum -- ${shellQuote(path)}`
    ui.command(['ssh', ...(port === 22 ? [] : ['-p', String(port)]), `${user}@${host}`, command])
    const result = await execRemote(client, command).catch(() => undefined)
    return /^([0-9a-f]{32}) /.exec(result?.stdout.toString() ?? '')?.[1]
  }

  /**
   * A big upload that survives a cut connection: written to a temporary name derived from its
   * md5, continued from the size found there by the next run, checked by md5 on the server,
   * then renamed into place. Kept on the server when the connection is lost (for the next
   * run); removed on any other failure, on Ctrl-C, and when its md5 is wrong (a second try
   * then starts from the first byte).
   */
  const resumable = async (remotePath: string, localFile: string, size: number, options: PutOptions, md5: string) => {
    const target = at(remotePath)
    const temp = resumableName(target, md5)
    const removeTemp = () => sftp.remove(temp).catch(() => undefined)
    const forget = onInterrupt(removeTemp)
    try {
      for (let attempt = 0; ; attempt++) {
        const found = attempt === 0 ? await sftp.lstat(temp).catch(() => undefined) : undefined
        const from = found && typeOf(found.mode ?? 0) === 'file' && (found.size ?? 0) <= size ? (found.size ?? 0) : 0
        if (from > 0) ui.info(printable(`${urlOf(target)}: continuing the upload cut at ${from} of ${size} bytes`))
        try {
          await writeLarge(temp, localFile, options, from)
        } catch (error) {
          if (sftpCode(error) !== NO_SUCH_FILE || from > 0) throw error
          forgetDirectories(posix.dirname(target))
          await mkdirp(posix.dirname(target))
          await writeLarge(temp, localFile, options)
        }
        const there = await remoteMd5(temp)
        if (there === md5.toLowerCase()) break
        await removeTemp()
        // resumed onto bytes that were not ours, or a server without md5sum: once from scratch
        if (from === 0 || attempt > 0) throw new UserError(printable(`${urlOf(target)}: the uploaded file's md5 is ${there ?? 'unknown (md5sum failed on the server)'}, not ${md5}`))
      }
      await renameOver(temp, target)
    } catch (error) {
      // a lost connection leaves the temporary file for the next run to continue
      if (!sftp.failed) await removeTemp()
      throw error instanceof UserError ? error : fail('cannot write', remotePath, error)
    } finally {
      forget()
    }
  }

  return {
    url,
    async put(localFile: string, remotePath: string, options: PutOptions = {}) {
      const size = statSync(localFile, { throwIfNoEntry: false })?.size
      if (size === undefined) throw new UserError(`cannot upload ${printable(localFile)}: no such file`)
      if (size <= SMALL_FILE) {
        // Most files of a mirror are small: one read, then open, write, set times, close,
        // the last three pipelined on the handle (sftp-server handles them in order).
        // The read is synchronous: through the promise API each file costs four thread-pool
        // round trips, and reading 5,000 small files took 4 times the CPU (0.6 s against 0.15 s).
        let data
        try {
          data = readFileSync(localFile)
        } catch (error) {
          // a local problem: say so, rather than an internal error or one blaming the hub
          throw cannotRead(localFile, error)
        }
        await atomically(remotePath, (temp) => writeSmall(temp, data, options))
        options.onProgress?.(data.length, data.length)
        return
      }
      if (options.resumeMd5 && remoteCommands) return resumable(remotePath, localFile, size, options, options.resumeMd5)
      await atomically(remotePath, (temp) => writeLarge(temp, localFile, options))
    },
    async putText(text, remotePath) {
      await atomically(remotePath, (temp) => writeSmall(temp, Buffer.from(text), {}))
    },
    async createNew(text, remotePath) {
      const target = at(remotePath)
      const open = () => sftp.openNew(target, 0o644)
      let handle
      try {
        handle = await open().catch(async (error) => {
          if (sftpCode(error) !== NO_SUCH_FILE) throw error
          forgetDirectories(posix.dirname(target)) // taken as there, it may have been removed since
          await mkdirp(posix.dirname(target))
          return open()
        })
      } catch (error) {
        // SFTP v3 has no "exists" status: OpenSSH answers FAILURE, so look
        if (error instanceof UserError) throw error
        if (await sftp.lstat(target).catch(() => undefined)) return false
        throw fail('cannot create', remotePath, error)
      }
      await writeAndClose(handle, Buffer.from(text), {}).catch((error) => Promise.reject(fail('cannot write', remotePath, error)))
      return true
    },
    async readText(remotePath) {
      try {
        return (await sftp.readFile(at(remotePath))).toString('utf8')
      } catch (error) {
        if (sftpCode(error) === NO_SUCH_FILE) return undefined
        throw fail('cannot read', remotePath, error)
      }
    },
    async link(target, linkPath) {
      try {
        await atomically(linkPath, (temp) => sftp.symlink(target, temp))
        return 'symlink'
      } catch (error) {
        ui.debug(printable(`symlink refused on sftp://${where} (${errorMessage(error)}): copying instead`))
      }
      const source = posix.join(posix.dirname(at(linkPath)), target)
      await atomically(linkPath, async (temp) => {
        await writeSmall(temp, await sftp.readFile(source), {})
      })
      return 'copy'
    },
    async readLink(path) {
      return sftp.readlink(at(path)).catch(() => undefined)
    },
    async list(dir, options = {}) {
      const out: HubEntry[] = []
      const top = at(dir)
      // Listings started ahead from the hint, by path: on a far-away server the tree is then
      // read in about two round trips instead of two per level. One is used only where the
      // parent's listing shows a directory (not a link to one), as without the hint.
      const started = new Map<string, { reading: Promise<SftpEntry[]>; ahead: boolean }>()
      if (options.recursive && options.likelyDirectories) {
        options.likelyDirectories.then(
          (dirs) => {
            // shallow first: when the server's open directories run short, the upper levels lead
            for (const rel of [...dirs].sort((a, b) => a.split('/').length - b.split('/').length)) {
              const path = `${top}/${rel}`
              if (started.has(path)) continue
              const reading = sftp.readdir(path)
              reading.catch(() => undefined) // not needed, or read again: see listing()
              started.set(path, { reading, ahead: true })
            }
          },
          () => undefined, // no hint: each level after its parent
        )
      }
      /** The entries of a directory its parent's listing showed, read ahead or now. */
      const listing = async (path: string) => {
        const found = started.get(path)
        if (found && !found.ahead) return found.reading
        // a failure ahead is not reported as such: read again, for the error as it is now
        const entries = found && (await found.reading.catch(() => undefined))
        if (entries) return entries
        const reading = sftp.readdir(path)
        started.set(path, { reading, ahead: false })
        return reading
      }
      const read = async (path: string, prefix: string): Promise<void> => {
        let entries
        try {
          entries = await listing(path)
        } catch (error) {
          // a subdirectory by its place under the hub root: `prefix` is relative to `dir`
          if (sftpCode(error) !== NO_SUCH_FILE) throw fail('cannot list', prefix ? posix.join(dir, prefix.slice(0, -1)) : dir, error)
          // an absent directory lists as empty, but a file or a bad link on its way is an error
          // a dry run must show too (the server says "No such file" for both)
          const blocker = prefix === '' ? await blockerAbove(path) : undefined
          if (blocker) throw new UserError(blocker)
          return
        }
        // listed, so there: a mirror's mkdirp of it costs no round trip now
        if (!madeDirs.has(path)) madeDirs.set(path, Promise.resolve())
        const subdirs: Promise<void>[] = []
        for (const { name, attrs } of entries) {
          const type = typeOf(attrs.mode ?? 0)
          out.push({ path: prefix + name, size: attrs.size ?? 0, mtime: attrs.mtime ?? 0, type })
          if (options.recursive && type === 'dir') subdirs.push(read(`${path}/${name}`, `${prefix}${name}/`))
        }
        await Promise.all(subdirs)
      }
      await read(top, '')
      return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    },
    async remove(path) {
      const target = at(path)
      try {
        // most removals are of files: unlink first, look at what it is only when that fails
        await sftp.remove(target).catch(async (error) => {
          if (sftpCode(error) === NO_SUCH_FILE) return
          const found = await sftp.lstat(target)
          if (found && typeOf(found.mode ?? 0) === 'dir') await sftp.rmdir(target)
          else if (found) throw error
        })
      } catch (error) {
        if (sftpCode(error) !== NO_SUCH_FILE) throw fail('cannot remove', path, error)
      }
    },
    async mkdirp(dir) {
      await mkdirp(at(dir)).catch((error) => Promise.reject(error instanceof UserError ? error : fail('cannot create directory', dir, error)))
    },
    async removeEmptyDirectoriesMade(dir) {
      for (const made of madeDirectoriesAround(createdDirs, at(dir))) {
        // the server refuses to remove a directory that is not empty: it stays, with its parents
        const removed = await sftp.rmdir(made).then(
          () => true,
          () => false,
        )
        if (!removed) continue
        createdDirs.delete(made)
        madeDirs.delete(made)
      }
    },
    async sha256(paths) {
      const hashes = new Map<string, string>()
      // One `sha256sum` per 100 files on the server when it lets us run commands; else download.
      for (let i = 0; i < paths.length; i += 100) {
        const batch = paths.slice(i, i + 100).map(at)
        const command = `sha256sum -- ${batch.map(shellQuote).join(' ')}`
        // as OpenSSH's ssh would run it, one word for the server's shell: the line can be pasted
        if (remoteCommands) ui.command(['ssh', ...(port === 22 ? [] : ['-p', String(port)]), `${user}@${host}`, command])
        const output = remoteCommands ? (await execRemote(client, command).catch(() => undefined))?.stdout.toString() ?? '' : ''
        for (const line of output.split('\n')) {
          const match = /^([0-9a-f]{64}) [ *](.*)$/.exec(line)
          if (match) hashes.set(match[2]!, match[1]!)
        }
      }
      const result: (string | undefined)[] = []
      for (const path of paths) {
        const full = at(path)
        if (hashes.has(full)) {
          result.push(hashes.get(full))
          continue
        }
        try {
          result.push(createHash('sha256').update(await sftp.readFile(full)).digest('hex'))
        } catch (error) {
          if (sftpCode(error) === NO_SUCH_FILE) {
            result.push(undefined)
            continue
          }
          // OpenSSH answers a bare "Failure" for a directory: say what stands there (error path only)
          const found = await sftp.lstat(full).catch(() => undefined)
          if (found && typeOf(found.mode ?? 0) === 'dir') throw new UserError(`${printable(urlOf(full))} is a directory where a file is expected: remove it first`)
          throw fail('cannot read', path, error)
        }
      }
      return result
    },
    lost: () => sftp.failed,
    async close() {
      sftp.end()
      client.end()
    },
  }
}

function cannotConnect(host: string, port: number, error: Error & { code?: string }): UserError {
  return new UserError(`cannot connect to ${knownHostsName(host, port)}: ${error.code === 'ECONNREFUSED' ? 'connection refused' : (error.code ?? error.message)}`)
}

/** A word for the server's shell, quoted only when it must be (so that the -v echo stays readable). */
function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

interface RemoteResult {
  code: number | undefined
  stdout: Buffer
  stderr: string
}

/** A command run over the connection (rejects when the server allows no commands). */
function execRemote(client: Client, command: string): Promise<RemoteResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error)
      const out: Buffer[] = []
      let stderr = ''
      let code: number | undefined
      channel.on('data', (chunk: Buffer) => out.push(chunk))
      channel.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      channel.on('exit', (exitCode: number | null) => (code = exitCode ?? undefined))
      channel.on('close', () => resolve({ code, stdout: Buffer.concat(out), stderr }))
      // nothing to send: an account forced to internal-sftp then exits instead of waiting for us
      channel.end()
    })
  })
}
