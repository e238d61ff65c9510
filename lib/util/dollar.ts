// The `$` the public API exports: a light stand-in that loads the command layer
// (lib/util/shell.ts: zx, child_process) when the first command runs, so that a task file
// importing `$` at its top level costs `help` nothing.
import type { CommandOutput, Dollar, ShellOptions } from './shell.js'

type Template = TemplateStringsArray

export const $: Dollar = ((first: Template | ShellOptions, ...values: unknown[]) => {
  if (Array.isArray(first) && 'raw' in first) return import('./shell.js').then((shell) => shell.$(first as Template, ...values))
  return (pieces: Template, ...rest: unknown[]): Promise<CommandOutput> => import('./shell.js').then((shell) => shell.$(first as ShellOptions)(pieces, ...rest))
}) as Dollar
