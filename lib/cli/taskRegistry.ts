// The tasks the `casa_distro_admin` command knows: one compiled module per file of tasks/.
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { packageRoot } from '../util/paths.js'
import type { TaskDefinition } from './task.js'

export const tasksDir = (): string => join(packageRoot, 'dist', 'tasks')

/** Task names, from the file names, sorted. */
export function taskNames(): string[] {
  return readdirSync(tasksDir())
    .filter((file) => file.endsWith('.js'))
    .map((file) => file.slice(0, -3))
    .sort()
}

export async function loadTask(name: string): Promise<TaskDefinition> {
  const module = await import(pathToFileURL(join(tasksDir(), `${name}.js`)).href)
  return module.default as TaskDefinition
}

export async function loadAllTasks(): Promise<TaskDefinition[]> {
  return Promise.all(taskNames().map(loadTask))
}
