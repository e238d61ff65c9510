// The public API of casa-distro-admin: what a casa.config.ts or a task written
// elsewhere imports as `casa-distro-admin`.
export { defineConfig, loadConfig, mergeConfig, type CasaConfig, type ResolvedConfig, type UserConfig, type ConfigEnv } from './config/config.js'
export { defineTask, type TaskDefinition, type TaskContext, type OptionSpecs } from './cli/task.js'
export { UserError, UsageError, exitCodes } from './util/errors.js'
export { ui } from './util/ui.js'
