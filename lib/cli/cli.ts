// The `casa_distro_admin` dispatcher: global options, `help`, `completion`, then the task.
// The config is read first, for its taskSearchPath (a site's own tasks, then the builtin
// ones). Only the task that runs is imported; `help` imports the small task modules for
// their summaries, and no task imports anything heavy before it runs.
import { UsageError, exitCodes, isUserError, type UserError } from '../util/errors.js'
import { globalOptionHelp } from './options.js'
import { didYouMean } from '../util/suggest.js'
import { reportError, runTask, taskHelp, version, type PreloadedConfig, type TaskDefinition } from './task.js'
import { displayPath, findTasks, loadAllTasks, loadTaskFile, type LoadedTask, type TaskFiles } from './taskRegistry.js'
import { paintResult, ui } from '../util/ui.js'
import { restoreDeferredCaCertificates } from '../util/deferredCa.js'
import { builtinTaskSearchPath, defaultRepository, expandConfigPath, findConfigFile } from '../config/configLocation.js'

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

/** The task list: a site's task shows the file it comes from. */
export function mainHelp(tasks: readonly (TaskDefinition | LoadedTask)[]): string {
  const loaded = tasks.map((t) => ('definition' in t ? t : { definition: t, file: undefined }))
  const width = Math.max(...loaded.map((t) => t.definition.name.length), 'completion bash'.length)
  const origin = (t: (typeof loaded)[number]) => (t.file && !t.file.builtin ? `  ${paintResult('bold', `[${displayPath(t.file.file)}]`)}` : '')
  return [
    `${paintResult('bold', 'casa_distro_admin')} [global options] <task> [key=value ...]`,
    '',
    'Build, convert and publish the container images and releases of the BrainVISA/CASA distribution.',
    '',
    'Tasks:',
    ...loaded.map((t) => `  ${t.definition.name.padEnd(width)}  ${t.definition.summary}${origin(t)}`),
    '',
    `A task is a file: <repository>/tasks/NAME.ts, ~/.config/casa-distro/tasks/NAME.ts (the config's`,
    `taskSearchPath), then the builtin ones; first found by name wins. See docs/writing-tasks.md.`,
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

/** --repository and --config wherever they are on the line: they choose the config, hence where tasks are found. */
function locationOptions(words: readonly string[]): { repository?: string; configFile?: string } {
  let repository: string | undefined
  let configFile: string | undefined
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!
    const assignment = /^(?:--)?(repository|config)=(.*)$/s.exec(word)
    if (assignment) {
      if (assignment[1] === 'repository') repository = assignment[2]
      else configFile = assignment[2]
    } else if (word === '-r' || word === '--repository') repository = words[++i]
    else if (word === '--config') configFile = words[++i]
  }
  return { repository: repository || undefined, configFile: configFile || undefined }
}

/** Where tasks are searched: the config's taskSearchPath, or only the builtin tasks when the config does not load. */
interface TaskSearch {
  searchPath: string[]
  preloaded?: PreloadedConfig
  configError?: UserError
}

async function taskSearch(words: readonly string[]): Promise<TaskSearch> {
  const where = locationOptions(words)
  try {
    // without a user config the builtin search path applies, and no config module need load
    if (!findConfigFile(where)) return { searchPath: builtinTaskSearchPath.map((path) => expandConfigPath(path, defaultRepository(where))) }
    const { loadConfig } = await import('../config/config.js')
    const config = await loadConfig(where)
    return { searchPath: config.taskSearchPath, preloaded: { config, ...where } }
  } catch (error) {
    if (!isUserError(error)) throw error
    return { searchPath: [], configError: error }
  }
}

/** -v: which task files are hidden by one of the same name found first. */
function reportShadowed(shadowed: TaskFiles['shadowed'], name?: string): void {
  for (const { task, by } of shadowed) {
    if (name === undefined || task.name === name) ui.debug(`task ${task.name}: ${displayPath(by.file)} shadows ${task.builtin ? 'the builtin one' : displayPath(task.file)}`)
  }
}

async function resolveTask(name: string, search: TaskSearch): Promise<TaskDefinition> {
  const { tasks, shadowed } = findTasks(search.searchPath)
  const file = tasks.find((task) => task.name === name)
  if (!file) {
    // the task may be a site's, on a search path the broken config would have given
    if (search.configError) throw search.configError
    const names = tasks.map((task) => task.name)
    throw new UsageError(`unknown task "${name}"${didYouMean(name, [...names, ...builtins])}; "casa_distro_admin help" lists the tasks`)
  }
  reportShadowed(shadowed, name)
  return loadTaskFile(file)
}

/** Every task that loads; a task file that does not is one warning line, and the others still work. */
async function allTasks(search: TaskSearch): Promise<LoadedTask[]> {
  if (search.configError) ui.warn(`${search.configError.message} (only the builtin tasks are listed)`)
  const { tasks, failures, shadowed } = await loadAllTasks(search.searchPath)
  for (const failure of failures) ui.warn(failure)
  reportShadowed(shadowed)
  return tasks
}

export async function main(words: readonly string[]): Promise<number> {
  // the launcher's NODE_EXTRA_CA_CERTS back before anything runs a program
  restoreDeferredCaCertificates()
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
    // -v anywhere on the line names shadowed task files
    ui.configure({ verbose: globals.verbose || words.includes('-v') || words.includes('--verbose') })
    const search = await taskSearch(words)
    if (command === undefined || command === 'help') {
      if (rest.length > 1 && command === 'help') throw new UsageError(`help takes one task name, got ${rest.length} words`)
      if (rest.length > 0 && command === 'help') ui.result(rest[0]! in builtinHelp ? builtinHelp[rest[0]!]! : taskHelp(await resolveTask(rest[0]!, search)))
      else ui.result(mainHelp(await allTasks(search)))
      return exitCodes.ok
    }
    if (command === 'completion') {
      if (rest[0] !== 'bash') throw new UsageError(`completion: only "bash" is supported`)
      const { bashCompletion } = await import('./completion.js')
      ui.result(bashCompletion((await allTasks(search)).map((task) => task.definition)))
      return exitCodes.ok
    }
    const task = await resolveTask(command, search)
    // global options written before the task name are passed on as words
    return await runTask(task, [...before, ...rest], globals, search.preloaded)
  } catch (error) {
    return reportError(error)
  }
}
