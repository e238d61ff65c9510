// Where things are: the installed package, the user's home, `~` expansion.
import { existsSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The casa-distro-admin package directory (holding share/ and casa.config.ts), found from this module. */
export const packageRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(dir, 'share', 'docker')) && existsSync(join(dir, 'package.json'))) return dir
    const parent = dirname(dir)
    if (parent === dir) return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
    dir = parent
  }
})()

export const home = (): string => process.env.HOME || homedir()

export function expandHome(path: string): string {
  return path === '~' ? home() : path.startsWith('~/') ? join(home(), path.slice(2)) : path
}
