// The `casa_distro_admin` dispatcher: global options, `help`, `completion`, then the task.
// Only the task that runs is imported; `help` imports the small task modules for their
// summaries, and no task imports anything heavy before it runs.
import { UsageError, exitCodes } from '../util/errors.js'
import { globalOptionHelp } from './options.js'
import { didYouMean } from '../util/suggest.js'
import { reportError, runTask, taskHelp, version, type TaskDefinition } from './task.js'
import { loadAllTasks, loadTask, taskNames } from './taskRegistry.js'
import { paintResult, ui } from '../util/ui.js'

const builtins = ['help', 'completion']

/** Split the words before the task name: global options, then the command and its words. */
function splitCommand(words: readonly string[]): { before: string[]; command?: string; rest: string[] } {
  const before: string[] = []
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    if (word === '-r' || word === '--repository' || word === '--config') {
      // `-r` as the last word has no value: a usage error, not a silent "no repository"
      if (i + 1 >= words.length || words[i + 1] === '') throw new UsageError(`${word} needs a value (a directory${word === '--config' ? ' or file' : ''})`)
      before.push(word, words[++i]!)
    } else if (word.startsWith('-') || (/^[a-z_]+=/.test(word) && /^(repository|config|verbose)=/.test(word))) {
      before.push(word)
    } else {
      return { before, command: word, rest: words.slice(i + 1) }
    }
  }
  return { before, rest: [] }
}

export function mainHelp(tasks: readonly TaskDefinition[]): string {
  const width = Math.max(...tasks.map((t) => t.name.length), 'completion bash'.length)
  return [
    `${paintResult('bold', 'casa_distro_admin')} [global options] <task> [key=value ...]`,
    '',
    'Build, convert and publish the container images and releases of the BrainVISA/CASA distribution.',
    '',
    'Tasks:',
    ...tasks.map((t) => `  ${t.name.padEnd(width)}  ${t.summary}`),
    '',
    'Other commands:',
    `  ${'help [task]'.padEnd(width)}  this list, or a task's description and options`,
    `  ${'completion bash'.padEnd(width)}  print a bash completion script: source <(casa_distro_admin completion bash)`,
    '',
    'Global options:',
    ...globalOptionHelp.map(([flag, help]) => `  ${flag.padEnd(22)} ${help}`),
  ].join('\n')
}

/** `help help` and `help completion`: the commands that are not tasks have their help too. */
const builtinHelp: Record<string, string> = {
  help: [
    `${paintResult('bold', 'casa_distro_admin help')} [task]`,
    '',
    'Without a task: the list of tasks, commands and global options.',
    "With a task (or -h/--help after it): the task's description and options, with their defaults.",
  ].join('\n'),
  completion: [
    `${paintResult('bold', 'casa_distro_admin completion')} bash`,
    '',
    'Print a bash completion script for the tasks, their options and the global options.',
    'Load it in the current shell with: source <(casa_distro_admin completion bash)',
    'or install it once: casa_distro_admin completion bash > ~/.local/share/bash-completion/completions/casa_distro_admin',
  ].join('\n'),
}

async function resolveTask(name: string): Promise<TaskDefinition> {
  const names = taskNames()
  if (!names.includes(name)) {
    throw new UsageError(`unknown task "${name}"${didYouMean(name, [...names, ...builtins])}; "casa_distro_admin help" lists the tasks`)
  }
  return loadTask(name)
}

export async function main(words: readonly string[]): Promise<number> {
  try {
    const { before, command, rest } = splitCommand(words)
    const globals = {
      help: before.includes('-h') || before.includes('--help'),
      verbose: before.includes('-v') || before.includes('--verbose'),
    }
    if (before.includes('--version')) {
      ui.result(`casa_distro_admin ${await version()}`)
      return exitCodes.ok
    }
    for (const word of before) {
      if (word.startsWith('-') && !['-h', '--help', '-v', '--verbose', '-r', '--repository', '--config'].includes(word.split('=')[0]!)) {
        throw new UsageError(`unknown option ${word}${didYouMean(word, ['--repository', '--verbose', '--config', '--help', '--version'])}`)
      }
    }
    if (command === undefined || command === 'help') {
      if (rest.length > 1 && command === 'help') throw new UsageError(`help takes one task name, got ${rest.length} words`)
      if (rest.length > 0 && command === 'help') ui.result(rest[0]! in builtinHelp ? builtinHelp[rest[0]!]! : taskHelp(await resolveTask(rest[0]!)))
      else ui.result(mainHelp(await loadAllTasks()))
      return exitCodes.ok
    }
    if (command === 'completion') {
      if (rest[0] !== 'bash') throw new UsageError(`completion: only "bash" is supported`)
      const { bashCompletion } = await import('./completion.js')
      ui.result(bashCompletion(await loadAllTasks()))
      return exitCodes.ok
    }
    const task = await resolveTask(command)
    // global options written before the task name are passed on as words
    return await runTask(task, [...before, ...rest], globals)
  } catch (error) {
    return reportError(error)
  }
}
