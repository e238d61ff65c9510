// The architecture of the image's binaries, read from ELF headers as Apptainer does
// (`ArchFromContainer`: the ELF header of /bin/sh): docker's Architecture field is only what
// the image's config says, and an image assembled on another machine can say amd64 for arm64
// binaries. Paths of the usual program directories are watched while the export streams by:
// the first bytes of their regular files and their link targets, nothing else.
import { posix } from 'node:path'

/** Go architecture names, from the ELF class, data encoding and e_machine. */
export function elfArch(header: Buffer): string | undefined {
  if (header.length < 20 || header.readUInt32BE(0) !== 0x7f454c46) return undefined
  const is64 = header[4] === 2
  const little = header[5] === 1
  const machine = little ? header.readUInt16LE(18) : header.readUInt16BE(18)
  switch (machine) {
    case 3:
      return '386'
    case 62:
      return 'amd64'
    case 40:
      return 'arm'
    case 183:
      return 'arm64'
    case 21:
      return little ? 'ppc64le' : 'ppc64'
    case 22:
      return 's390x'
    case 243:
      return is64 ? 'riscv64' : undefined
    case 258:
      return 'loong64'
    case 8:
      return is64 ? (little ? 'mips64le' : 'mips64') : little ? 'mipsle' : 'mips'
    default:
      return undefined
  }
}

const programDir = /^(usr\/(local\/)?)?s?bin\/[^/]+$/

/** What the stream saw in the program directories: ELF architectures and links. */
export class BinaryIndex {
  private readonly arches = new Map<string, string>()
  private readonly links = new Map<string, string>()
  constructor(private readonly extra: readonly string[] = []) {}

  /** Whether the first bytes of this regular file are wanted. */
  wants(path: string): boolean {
    return programDir.test(path) || this.extra.includes(path)
  }

  file(path: string, head: Buffer): void {
    const arch = elfArch(head)
    if (arch) this.arches.set(path, arch)
  }

  /** A symbolic link (target as written) or a hard link (target a path of the archive). */
  link(path: string, target: string, hard: boolean): void {
    if (!this.wants(path)) return
    const resolved = hard ? target : target.startsWith('/') ? target : posix.join(posix.dirname(`/${path}`), target)
    this.links.set(path, posix.normalize(resolved).replace(/^\/+/, ''))
  }

  /** The architecture of the first of `paths` that is an ELF binary, links followed. */
  archOf(paths: readonly string[]): string | undefined {
    for (let path of paths) {
      for (let hops = 0; hops < 16 && this.links.has(path); hops++) path = this.links.get(path)!
      const arch = this.arches.get(path)
      if (arch) return arch
    }
    return undefined
  }
}
