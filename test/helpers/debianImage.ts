// A real distribution image for the SIF parity tests, made here from Debian's packages (nothing
// can be pulled from Docker Hub): a minbase bookworm built by mmdebstrap and `docker import`ed,
// then a Dockerfile installing small real packages with apt. Both are built once per engine and
// kept by tag (a few minutes the first time, nothing after); concurrent test files share them.
// The mirror is the one apt on this machine uses (deb.debian.org here; CASA_TEST_DEBIAN_MIRROR
// overrides it).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ensureDocker } from './services.js'

export const debianBase = 'casa-test-debian/base:bookworm-1'
export const debianApt = 'casa-test-debian/apt:bookworm-1'

/** The tricky ENV of the apt image: spaces, $, quotes, backslashes, and a *PATH variable. */
export const debianEnv = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'SPACES=a  b', 'DOLLAR=$HOME ${X}', `QUOTES=it's "q"`, 'BACKSLASH=a\\b\\', 'MYPATH=/opt/a:/opt/b']

/** NAME="value" for a Dockerfile ENV line: \\, " and $ escaped (ENV expands variables). */
function dockerfileAssignment(assignment: string): string {
  const eq = assignment.indexOf('=')
  return `${assignment.slice(0, eq)}="${assignment.slice(eq + 1).replace(/[\\"$]/g, (c) => `\\${c}`)}"`
}

/** Whether the engine holds an image of this tag. */
export const present = (tag: string) => {
  try {
    execFileSync('docker', ['image', 'inspect', tag], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** The minbase bookworm (mmdebstrap | docker import); also the base of bench/bigImage.ts. */
export function ensureDebianBase(): string {
  ensureDocker()
  const mirror = process.env.CASA_TEST_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian'
  if (!present(debianBase)) {
    execFileSync('bash', ['-o', 'pipefail', '-c', `mmdebstrap --quiet --variant=minbase --mode=root --format=tar bookworm - ${mirror} | docker import - ${debianBase}`], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 26 })
  }
  return debianBase
}

/** The minbase bookworm, then the image with apt packages on it. */
export function ensureDebianImages(): { base: string; apt: string } {
  ensureDebianBase()
  if (!present(debianApt)) {
    const context = mkdtempSync(join(tmpdir(), 'casa-debian-'))
    try {
      writeFileSync(
        join(context, 'Dockerfile'),
        [
          `FROM ${debianBase}`,
          // hello: a real binary; netbase: files under /etc from a package's own maintainer scripts
          'RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends hello netbase >/dev/null && rm -rf /var/lib/apt/lists/*',
          'RUN useradd -m -u 1234 casa && mkdir /srv/data && chown casa:casa /srv/data && ln /usr/bin/hello /usr/local/bin/hello-hard',
          `ENV ${debianEnv.map(dockerfileAssignment).join(' ')}`,
          'VOLUME /srv/data',
          'WORKDIR /srv',
          'ENTRYPOINT ["/usr/bin/hello"]',
          'CMD ["-g", "hi there"]',
          '',
        ].join('\n'),
      )
      execFileSync('docker', ['build', '--network=host', '-q', '-t', debianApt, context], { stdio: ['ignore', 'ignore', 'pipe'] })
    } finally {
      rmSync(context, { recursive: true, force: true })
    }
  }
  return { base: debianBase, apt: debianApt }
}
