// A lean SFTP version 3 client over an SSH channel: only the requests a hub needs, each a
// promise. Why not ssh2's own SFTP client: it sends every request as an SSH packet of its own
// (an encryption, a padding draw and a socket write each) and turns every listed entry into a
// Stats object with its `ls -l` line decoded. On a 1% mirror of 5,000 files that was most of
// our CPU time. Here the requests made in one turn of the event loop leave in one channel
// write, and a listing keeps the name, type, size and mtime only.
import type { Duplex } from 'node:stream'

const FXP = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const

/** SSH_FX_* status codes (draft-ietf-secsh-filexfer-02). */
export const SFTP_STATUS = { OK: 0, EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, OP_UNSUPPORTED: 8 } as const

const ATTR = { SIZE: 0x1, UIDGID: 0x2, PERMISSIONS: 0x4, ACMODTIME: 0x8, EXTENDED: 0x80000000 } as const
const OPEN_FLAGS = { READ: 0x1, WRITE: 0x2, CREAT: 0x8, TRUNC: 0x10, EXCL: 0x20 } as const

/** Bytes of file data per READ or WRITE request: what every server must take (34,000-byte packets). */
const SFTP_CHUNK = 32 * 1024
/** The most data per WRITE we send, even where the server's limits@openssh.com allows more. */
const MAX_WRITE = 256 * 1024
/**
 * Directories open at once (the server holds a descriptor for each): a tree is listed all at
 * once. A mirror reads every directory of its local tree ahead (103 in the wan bench's tree):
 * with 64, that took two rounds of OPENDIR then READDIR, 2 round trips more.
 */
const OPEN_DIRECTORIES = 128
/** The largest packet we accept, as OpenSSH's sftp-server sends at most 256 KiB. */
const MAX_PACKET = 256 * 1024 + 1024

export class SftpError extends Error {
  constructor(
    message: string,
    /** The server's SSH_FX_* status, or -1 when the session itself failed. */
    readonly code: number,
  ) {
    super(message)
    this.name = 'SftpError'
  }
}

export interface SftpAttrs {
  size?: number
  mode?: number
  atime?: number
  mtime?: number
}

export interface SftpEntry {
  name: string
  attrs: SftpAttrs
}


/** A request field: a string (length first), a uint32, a uint64, or bytes as they are (ATTRS). */
type Field = string | Buffer | number | { u64: number } | { raw: Buffer }
interface Reply {
  type: number
  body: Buffer // after the request id
}
interface Waiter {
  resolve: (reply: Reply) => void
  reject: (error: Error) => void
}

function fieldLength(field: Field): number {
  if (typeof field === 'number') return 4
  if (typeof field === 'string') return 4 + Buffer.byteLength(field)
  if (Buffer.isBuffer(field)) return 4 + field.length
  return 'raw' in field ? field.raw.length : 8
}

function encodeAttrs(attrs: SftpAttrs): { raw: Buffer } {
  let flags = 0
  let length = 4
  if (attrs.size !== undefined) (flags |= ATTR.SIZE), (length += 8)
  if (attrs.mode !== undefined) (flags |= ATTR.PERMISSIONS), (length += 4)
  if (attrs.mtime !== undefined) (flags |= ATTR.ACMODTIME), (length += 8)
  const out = Buffer.allocUnsafe(length)
  let at = out.writeUInt32BE(flags, 0)
  if (attrs.size !== undefined) at = writeU64(out, attrs.size, at)
  if (attrs.mode !== undefined) at = out.writeUInt32BE(attrs.mode, at)
  if (attrs.mtime !== undefined) out.writeUInt32BE(attrs.mtime, out.writeUInt32BE(attrs.atime ?? attrs.mtime, at))
  return { raw: out }
}

function writeU64(out: Buffer, value: number, at: number): number {
  out.writeUInt32BE(Math.floor(value / 0x100000000), at)
  return out.writeUInt32BE(value >>> 0, at + 4)
}

/** Reads the fields of one reply body in order. */
class Reader {
  at = 0
  constructor(readonly body: Buffer) {}
  u32(): number {
    const value = this.body.readUInt32BE(this.at)
    this.at += 4
    return value
  }
  bytes(): Buffer {
    const length = this.u32()
    const value = this.body.subarray(this.at, this.at + length)
    if (value.length !== length) throw new SftpError('sftp: truncated reply from the server', -1)
    this.at += length
    return value
  }
  string(): string {
    return this.bytes().toString('utf8')
  }
  skipString(): void {
    this.at += 4 + this.body.readUInt32BE(this.at)
  }
  attrs(): SftpAttrs {
    const flags = this.u32()
    const attrs: SftpAttrs = {}
    if (flags & ATTR.SIZE) attrs.size = this.u32() * 0x100000000 + this.u32()
    if (flags & ATTR.UIDGID) this.at += 8
    if (flags & ATTR.PERMISSIONS) attrs.mode = this.u32()
    if (flags & ATTR.ACMODTIME) (attrs.atime = this.u32()), (attrs.mtime = this.u32())
    if (flags & ATTR.EXTENDED) for (let n = this.u32() * 2; n > 0; n--) this.skipString()
    return attrs
  }
}

export class SftpSession {
  /** Extensions the server announced (name to version), e.g. posix-rename@openssh.com. */
  readonly extensions = new Map<string, string>()
  private nextId = 0
  private readonly waiting = new Map<number, Waiter>()
  private outgoing: Buffer[] = []
  private flushing: NodeJS.Immediate | undefined
  private incoming: Buffer[] = []
  private incomingBytes = 0
  private failure: SftpError | undefined
  private onVersion: ((body: Buffer) => void) | undefined
  /** Data per WRITE request: SFTP_CHUNK, or more once the server's limits say it takes more. */
  private writeLength = SFTP_CHUNK
  private openDirectories = 0
  /** readdir calls waiting for a directory slot; a freed slot is handed to the first as it is. */
  private readonly waitingForDirectory: (() => void)[] = []

  /**
   * @param openSsh the server is OpenSSH, whose SYMLINK takes its two paths in the reverse
   * order of the draft (every client has to know it)
   */
  private constructor(
    private readonly channel: Duplex,
    private readonly openSsh: boolean,
  ) {
    channel.on('data', (chunk: Buffer) => this.receive(chunk))
    channel.on('error', (error: Error) => this.fail(`sftp session failed: ${error.message}`))
    channel.on('close', () => this.fail('sftp session closed by the server'))
  }

  /** Start SFTP on a channel where the `sftp` subsystem runs: INIT, then the server's VERSION. */
  static open(channel: Duplex, options: { openSsh: boolean }): Promise<SftpSession> {
    const session = new SftpSession(channel, options.openSsh)
    return new Promise((resolve, reject) => {
      session.onVersion = (body) => {
        const reader = new Reader(body)
        const version = reader.u32()
        if (version !== 3) return reject(new SftpError(`the server speaks SFTP version ${version}, not 3`, -1))
        while (reader.at < body.length) session.extensions.set(reader.string(), reader.string())
        // Larger writes where OpenSSH says it takes them (about 255 KiB): an eighth of the
        // requests for big files. Not awaited: nothing small needs it, nothing waits a round trip.
        if (session.extensions.has('limits@openssh.com')) session.askLimits().catch(() => undefined)
        resolve(session)
      }
      session.waiting.set(-1, { resolve: () => undefined, reject })
      session.send(FXP.INIT, undefined, [3])
    })
  }

  // ---- requests, by name ----

  private async askLimits(): Promise<void> {
    const reply = await this.request(FXP.EXTENDED, ['limits@openssh.com'])
    if (reply?.type !== FXP.EXTENDED_REPLY) return
    const reader = new Reader(reply.body)
    const u64 = () => reader.u32() * 0x100000000 + reader.u32()
    u64() // max packet length
    u64() // max read length
    const maxWrite = u64()
    if (maxWrite > SFTP_CHUNK) this.writeLength = Math.min(maxWrite, MAX_WRITE)
  }

  /** Attributes of `path` without following a final link; undefined when it does not exist. */
  async lstat(path: string): Promise<SftpAttrs | undefined> {
    const reply = await this.request(FXP.LSTAT, [path], true)
    return reply && new Reader(reply.body).attrs()
  }

  /** Attributes of what `path` leads to, links followed; undefined when nothing is there (a dangling link). */
  async stat(path: string): Promise<SftpAttrs | undefined> {
    const reply = await this.request(FXP.STAT, [path], true)
    return reply && new Reader(reply.body).attrs()
  }

  async mkdir(path: string, mode = 0o755): Promise<void> {
    await this.request(FXP.MKDIR, [path, encodeAttrs({ mode })])
  }

  async rmdir(path: string): Promise<void> {
    await this.request(FXP.RMDIR, [path])
  }

  async remove(path: string): Promise<void> {
    await this.request(FXP.REMOVE, [path])
  }

  /** Plain SFTP rename: fails where `to` exists. */
  async rename(from: string, to: string): Promise<void> {
    await this.request(FXP.RENAME, [from, to])
  }

  /** rename(2) on the server, replacing `to` atomically (posix-rename@openssh.com). */
  async posixRename(from: string, to: string): Promise<void> {
    await this.request(FXP.EXTENDED, ['posix-rename@openssh.com', from, to])
  }

  /** A symbolic link at `link` pointing to `target`. */
  async symlink(target: string, link: string): Promise<void> {
    await this.request(FXP.SYMLINK, this.openSsh ? [target, link] : [link, target])
  }

  async readlink(path: string): Promise<string> {
    const reply = (await this.request(FXP.READLINK, [path]))!
    const reader = new Reader(reply.body)
    if (reader.u32() < 1) throw new SftpError(`readlink ${path}: empty reply`, SFTP_STATUS.FAILURE)
    return reader.string()
  }

  /** A handle on `path` opened for writing, created or truncated, with these permissions. */
  async openForWrite(path: string, mode: number): Promise<Buffer> {
    return this.handle(await this.request(FXP.OPEN, [path, OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.TRUNC, encodeAttrs({ mode })]))
  }

  /** A handle on the existing file at `path` for writing, its content kept (to continue it). */
  async openToContinue(path: string): Promise<Buffer> {
    return this.handle(await this.request(FXP.OPEN, [path, OPEN_FLAGS.WRITE, encodeAttrs({})]))
  }

  /** A handle on a new file at `path`; refused (FAILURE on OpenSSH) when `path` exists. */
  async openNew(path: string, mode: number): Promise<Buffer> {
    return this.handle(await this.request(FXP.OPEN, [path, OPEN_FLAGS.WRITE | OPEN_FLAGS.CREAT | OPEN_FLAGS.EXCL, encodeAttrs({ mode })]))
  }

  async openForRead(path: string): Promise<Buffer> {
    return this.handle(await this.request(FXP.OPEN, [path, OPEN_FLAGS.READ, encodeAttrs({})]))
  }

  /** Write `data` at `offset`, in as many requests as it takes, all sent at once. */
  async write(handle: Buffer, offset: number, data: Buffer): Promise<void> {
    const writes: Promise<unknown>[] = []
    const length = this.writeLength
    for (let at = 0; at < data.length; at += length) writes.push(this.request(FXP.WRITE, [handle, { u64: offset + at }, data.subarray(at, at + length)]))
    await Promise.all(writes)
  }

  /** Up to `length` bytes at `offset`; undefined at the end of the file. */
  async read(handle: Buffer, offset: number, length: number): Promise<Buffer | undefined> {
    const reply = await this.request(FXP.READ, [handle, { u64: offset }, length], false, true)
    return reply && new Reader(reply.body).bytes()
  }

  async fsetstat(handle: Buffer, attrs: SftpAttrs): Promise<void> {
    await this.request(FXP.FSETSTAT, [handle, encodeAttrs(attrs)])
  }

  async setstat(path: string, attrs: SftpAttrs): Promise<void> {
    await this.request(FXP.SETSTAT, [path, encodeAttrs(attrs)])
  }

  async fstat(handle: Buffer): Promise<SftpAttrs> {
    return new Reader((await this.request(FXP.FSTAT, [handle]))!.body).attrs()
  }

  async close(handle: Buffer): Promise<void> {
    await this.request(FXP.CLOSE, [handle])
  }

  /** The entries of a directory (without . and ..), with at most OPEN_DIRECTORIES open at once. */
  async readdir(path: string): Promise<SftpEntry[]> {
    if (this.openDirectories < OPEN_DIRECTORIES) this.openDirectories++
    else await new Promise<void>((resolve) => this.waitingForDirectory.push(resolve))
    try {
      return await this.readOpenDirectory(path)
    } finally {
      const next = this.waitingForDirectory.shift()
      if (next) next()
      else this.openDirectories--
    }
  }

  private async readOpenDirectory(path: string): Promise<SftpEntry[]> {
    const handle = this.handle(await this.request(FXP.OPENDIR, [path]))
    const entries: SftpEntry[] = []
    const take = (reply: Reply) => {
      const reader = new Reader(reply.body)
      for (let count = reader.u32(); count > 0; count--) {
        const name = reader.string()
        reader.skipString() // the `ls -l` line
        const attrs = reader.attrs()
        if (name !== '.' && name !== '..') entries.push({ name, attrs })
      }
    }
    try {
      // READDIRs two at a time: most directories fit in one reply, and the second answers
      // end of directory in the same round trip instead of one more (a third of a listing's
      // round trips on a far-away server). The server answers them in order.
      for (let done = false; !done; ) {
        const replies = await Promise.all([this.request(FXP.READDIR, [handle], false, true), this.request(FXP.READDIR, [handle], false, true)])
        for (const reply of replies) {
          if (!reply) done = true
          else if (!done) take(reply)
        }
      }
    } finally {
      // not awaited: the server answers in order, and nothing waits for this answer
      this.close(handle).catch(() => undefined)
    }
    return entries
  }

  /** The whole file at `path`. */
  async readFile(path: string): Promise<Buffer> {
    const handle = await this.openForRead(path)
    try {
      const chunks: Buffer[] = []
      let offset = 0
      // windows of 16 reads at once, until one answers end of file or comes back short
      for (;;) {
        const start = offset
        const window = await Promise.all(Array.from({ length: 16 }, (_, i) => this.read(handle, start + i * SFTP_CHUNK, SFTP_CHUNK)))
        for (const [i, chunk] of window.entries()) {
          if (!chunk) return Buffer.concat(chunks)
          chunks.push(chunk)
          offset += chunk.length
          // Short: the end of the file when the read after it found none (a small file takes
          // one round trip, not a second one to hear EOF); else a server that reads less per
          // request, and the next window starts where this one stopped.
          if (chunk.length < SFTP_CHUNK) {
            if (i < window.length - 1 && !window[i + 1]) return Buffer.concat(chunks)
            break
          }
        }
      }
    } finally {
      this.close(handle).catch(() => undefined)
    }
  }

  end(): void {
    this.channel.end()
  }

  /** The session is gone (closed by the server, the connection lost): every request fails now. */
  get failed(): boolean {
    return this.failure !== undefined
  }

  // ---- the wire ----

  private handle(reply: Reply | undefined): Buffer {
    return Buffer.from(new Reader(reply!.body).bytes())
  }

  /**
   * Send a request and wait for its reply. A STATUS reply of OK resolves to undefined, of
   * NO_SUCH_FILE too when `absentOk`, of EOF when `eofOk`; any other status rejects.
   */
  private request(type: number, fields: Field[], absentOk = false, eofOk = false): Promise<Reply | undefined> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.nextId
    this.nextId = (this.nextId + 1) >>> 0
    return new Promise<Reply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      this.send(type, id, fields)
    }).then((reply) => {
      if (reply.type !== FXP.STATUS) return reply
      const reader = new Reader(reply.body)
      const code = reader.u32()
      if (code === SFTP_STATUS.OK || (absentOk && code === SFTP_STATUS.NO_SUCH_FILE) || (eofOk && code === SFTP_STATUS.EOF)) return undefined
      const message = reader.at < reply.body.length ? reader.string() : ''
      throw new SftpError(message || `sftp status ${code}`, code)
    })
  }

  private send(type: number, id: number | undefined, fields: Field[]): void {
    let length = 1 + (id === undefined ? 0 : 4)
    for (const field of fields) length += fieldLength(field)
    const packet = Buffer.allocUnsafe(4 + length)
    let at = packet.writeUInt32BE(length, 0)
    packet[at++] = type
    if (id !== undefined) at = packet.writeUInt32BE(id, at)
    for (const field of fields) {
      if (typeof field === 'number') {
        at = packet.writeUInt32BE(field, at)
      } else if (typeof field === 'string') {
        const length = Buffer.byteLength(field)
        packet.write(field, packet.writeUInt32BE(length, at), 'utf8')
        at += 4 + length
      } else if (Buffer.isBuffer(field)) {
        field.copy(packet, packet.writeUInt32BE(field.length, at))
        at += 4 + field.length
      } else if ('raw' in field) {
        at += field.raw.copy(packet, at)
      } else {
        at = writeU64(packet, field.u64, at)
      }
    }
    this.outgoing.push(packet)
    // everything asked in this turn of the event loop leaves in one write
    this.flushing ??= setImmediate(() => {
      this.flushing = undefined
      const batch = this.outgoing.length === 1 ? this.outgoing[0]! : Buffer.concat(this.outgoing)
      this.outgoing = []
      if (!this.failure) this.channel.write(batch)
    })
  }

  private receive(chunk: Buffer): void {
    this.incoming.push(chunk)
    this.incomingBytes += chunk.length
    if (this.incomingBytes < 4) return
    let data = this.incoming.length === 1 ? this.incoming[0]! : Buffer.concat(this.incoming)
    let at = 0
    while (data.length - at >= 4) {
      const length = data.readUInt32BE(at)
      if (length < 1 || length > MAX_PACKET) return this.fail(`sftp: the server sent a packet of ${length} bytes`)
      if (data.length - at - 4 < length) break
      this.dispatch(data[at + 4]!, data.subarray(at + 5, at + 4 + length))
      at += 4 + length
    }
    data = data.subarray(at)
    this.incoming = data.length ? [data] : []
    this.incomingBytes = data.length
  }

  private dispatch(type: number, body: Buffer): void {
    if (type === FXP.VERSION) {
      this.waiting.delete(-1)
      const onVersion = this.onVersion
      this.onVersion = undefined
      return onVersion?.(body)
    }
    if (body.length < 4) return this.fail(`sftp: the server sent a reply of type ${type} without an id`)
    const id = body.readUInt32BE(0)
    const waiter = this.waiting.get(id)
    if (!waiter) return this.fail(`sftp: the server answered request ${id}, which was not asked`)
    this.waiting.delete(id)
    waiter.resolve({ type, body: body.subarray(4) })
  }

  private fail(message: string): void {
    if (this.failure) return
    this.failure = new SftpError(message, -1)
    for (const waiter of this.waiting.values()) waiter.reject(this.failure)
    this.waiting.clear()
    this.channel.destroy()
  }
}
