// Git's rules for ref names (`git check-ref-format`), so that a branch or tag name from the
// config or a hand-edited plan is refused before anything is pushed, not by `git push` half
// way through a release.

/** Why `name` (a branch or tag name, without refs/heads/ or refs/tags/) is not a valid ref name, or undefined. */
export function refNameProblem(name: string): string | undefined {
  if (name === '') return 'empty'
  if (name === '@' || name === 'HEAD') return `"${name}" is reserved`
  if (name.startsWith('-')) return 'starts with "-"'
  if (name.startsWith('/') || name.endsWith('/') || name.includes('//')) return 'has an empty path component'
  if (name.endsWith('.')) return 'ends with "."'
  if (name.includes('..')) return 'contains ".."'
  if (name.includes('@{')) return 'contains "@{"'
  // eslint-disable-next-line no-control-regex
  const bad = /[\x00-\x20\x7f~^:?*[\\]/.exec(name)
  if (bad) return `contains ${bad[0] === ' ' ? 'a space' : bad[0] < ' ' || bad[0] === '\x7f' ? 'a control character' : `"${bad[0]}"`}`
  for (const part of name.split('/')) {
    if (part.startsWith('.')) return `component "${part}" starts with "."`
    if (part.endsWith('.lock')) return `component "${part}" ends with ".lock"`
  }
  return undefined
}

export const isValidRefName = (name: string): boolean => refNameProblem(name) === undefined
