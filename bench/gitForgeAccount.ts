// The server side of the release bench as a git forge has it: the git commands run under an
// account of their own whose login shell is git-shell, not under root's bash. sshd runs every
// command through the account's shell, and Debian's bash reads ~/.bashrc for commands that
// come over ssh: root's here starts pyenv, which cost 170 ms a command on a quiet machine
// and up to 650 ms on a loaded one, a cost no forge has. git-shell execs git-upload-pack
// at once and reads no rc file. Our run and the baseline both log in as this account.
import { execFileSync } from 'node:child_process'
import { userInfo } from 'node:os'

/** The account's name: the same on every run (a system account, made once per machine). */
export const forgeAccountName = 'casa-bench-git'

export interface ForgeAccount {
  name: string
  /** What it is, for the bench's notes. */
  description: string
  /** Give the account the files it serves (the repositories a forge owns). */
  own(dir: string): void
}

const shellOf = (name: string): string | undefined => {
  try {
    return execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':')[6]
  } catch {
    return undefined
  }
}

/**
 * The git-shell account, made when absent (root only: `useradd --system`, no password that
 * could log in, `*` rather than a locked `!` that sshd without PAM refuses even for keys).
 * Without root, the runner's own account, said so in the description.
 */
export function forgeAccount(): ForgeAccount {
  const gitShell = execFileSync('sh', ['-c', 'command -v git-shell'], { encoding: 'utf8' }).trim()
  if (userInfo().uid !== 0) {
    const self = userInfo().username
    return { name: self, description: `${self} (not root: the runner's own account and shell ${shellOf(self)})`, own: () => undefined }
  }
  if (shellOf(forgeAccountName) === undefined) {
    try {
      execFileSync('useradd', ['--system', '--create-home', '--home-dir', `/var/lib/${forgeAccountName}`, '--shell', gitShell, '--password', '*', forgeAccountName], { stdio: 'pipe' })
    } catch (error) {
      // another bench made it meanwhile (useradd exits 9): fine; anything else is not
      if (shellOf(forgeAccountName) === undefined) throw error
    }
  }
  const shell = shellOf(forgeAccountName)
  if (shell !== gitShell) throw new Error(`the account ${forgeAccountName} exists with the shell ${shell}, not ${gitShell}`)
  return {
    name: forgeAccountName,
    description: `${forgeAccountName}, login shell ${gitShell}`,
    own: (dir) => execFileSync('chown', ['-R', `${forgeAccountName}:`, dir]),
  }
}
