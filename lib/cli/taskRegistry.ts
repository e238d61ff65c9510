// The tasks the `casa_distro_admin` command knows: the task files found on the config's
// taskSearchPath (a site's own `<repository>/tasks`, `~/.config/casa-distro/tasks`), then the
// builtin ones (compiled, in dist/tasks). First found by name wins, the name being the file's:
// a site's edited copy of create_docker.ts replaces the builtin one. A site's task file is
// bundled like a casa.config.ts, `casa-distro-admin` resolved to this installed tool, so the
// workflow repository needs no node_modules.
import { readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { UserError, errorMessage, isUserError } from '../util/errors.js'
import { home, packageRoot } from '../util/paths.js'
import type { TaskDefinition } from './task.js'

/** Where the builtin tasks are compiled to. */
export const tasksDir = (): string => join(packageRoot, 'dist', 'tasks')
/** The builtin tasks' sources, as `{builtin}/tasks` names them in taskSearchPath. */
const builtinSources = (): string => join(packageRoot, 'tasks')

/** One task file found on the search path. */
export interface TaskFile {
  /** The task's name: its file name without `.ts` (or `.js` for a compiled builtin). */
  name: string
  file: string
  builtin: boolean
}

/** The tasks by name (first found wins), sorted, and the files they shadow. */
export interface TaskFiles {
  tasks: TaskFile[]
  shadowed: { task: TaskFile; by: TaskFile }[]
}

function filesIn(dir: string): TaskFile[] {
  const builtin = resolve(dir) === builtinSources() || resolve(dir) === tasksDir()
  let names: string[]
  try {
    names = readdirSync(builtin ? tasksDir() : dir)
  } catch {
    return [] // an absent directory holds no task
  }
  const suffix = builtin ? '.js' : '.ts'
  return names
    .filter((file) => file.endsWith(suffix) && !file.endsWith('.d.ts') && !file.startsWith('.'))
    .sort()
    .map((file) => ({ name: file.slice(0, -suffix.length), file: join(builtin ? tasksDir() : dir, file), builtin }))
}

/** The task files on `searchPath` (builtin tasks last unless listed), first by name winning. */
export function findTasks(searchPath: readonly string[] = []): TaskFiles {
  const dirs = [...searchPath]
  if (!dirs.some((dir) => resolve(dir) === builtinSources() || resolve(dir) === tasksDir())) dirs.push(tasksDir())
  const byName = new Map<string, TaskFile>()
  const shadowed: TaskFiles['shadowed'] = []
  for (const dir of dirs) {
    for (const task of filesIn(dir)) {
      const first = byName.get(task.name)
      if (first) shadowed.push({ task, by: first })
      else byName.set(task.name, task)
    }
  }
  const tasks = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return { tasks, shadowed }
}

/** Task names, sorted. */
export function taskNames(searchPath?: readonly string[]): string[] {
  return findTasks(searchPath).tasks.map((task) => task.name)
}

/** `~/x` for a path under the home directory: shorter in listings. */
export function displayPath(path: string): string {
  const h = home()
  return path.startsWith(`${h}/`) ? `~${path.slice(h.length)}` : path
}

function isTaskDefinition(value: unknown): value is TaskDefinition {
  const task = value as TaskDefinition | undefined
  return typeof task === 'object' && task !== null && typeof task.summary === 'string' && typeof task.run === 'function' && typeof task.options === 'object'
}

/**
 * The definition in a task file; a file that does not load, or whose default export is not
 * defineTask(...), is a UserError naming the file and the reason.
 */
export async function loadTaskFile(task: TaskFile): Promise<TaskDefinition> {
  let module: Record<string, unknown>
  try {
    if (task.builtin) module = await import(pathToFileURL(task.file).href)
    else {
      const { loadBundledModule } = await import('../config/configFile.js')
      const bundled = await loadBundledModule(task.file)
      if (!bundled) throw new UserError(`${task.file}: a site task needs esbuild, installed with casa-distro-admin by npm`)
      module = bundled
    }
  } catch (error) {
    if (isUserError(error)) throw error
    throw new UserError(`${task.file}: ${errorMessage(error).split('\n')[0]}`)
  }
  if (!isTaskDefinition(module.default)) {
    throw new UserError(`${task.file}: not a task: its default export must be defineTask({ name, summary, options, run })`)
  }
  // the file's name is the task's name (a copy renamed keeps working under its new name)
  return module.default.name === task.name ? module.default : { ...module.default, name: task.name }
}

/** A task by name; undefined when no file on the search path has that name. */
export async function loadTask(name: string, searchPath?: readonly string[]): Promise<TaskDefinition | undefined> {
  const task = findTasks(searchPath).tasks.find((t) => t.name === name)
  return task && loadTaskFile(task)
}

/** A loaded task and where it came from. */
export interface LoadedTask {
  definition: TaskDefinition
  file: TaskFile
}

/**
 * Every task, for `help` and `completion`: those whose file does not load are left out and
 * reported, one line each, in `failures`.
 */
export async function loadAllTasks(searchPath?: readonly string[]): Promise<{ tasks: LoadedTask[]; failures: string[]; shadowed: TaskFiles['shadowed'] }> {
  const { tasks: files, shadowed } = findTasks(searchPath)
  const settled = await Promise.allSettled(files.map(loadTaskFile))
  const tasks: LoadedTask[] = []
  const failures: string[] = []
  settled.forEach((result, i) => {
    if (result.status === 'fulfilled') tasks.push({ definition: result.value, file: files[i]! })
    else failures.push(isUserError(result.reason) ? result.reason.message : `${files[i]!.file}: ${errorMessage(result.reason)}`)
  })
  return { tasks, failures, shadowed }
}
