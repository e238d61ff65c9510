/**
 * The public API of casa-distro-admin: what a casa.config.ts or a task file imports as
 * `casa-distro-admin`. This entry is light (a task file imports it at its top level, and
 * `help` loads every task file): defining tasks and configs, output, errors, Ctrl-C. The
 * heavy work is in the entries by concern, imported inside a task's `run`:
 * `casa-distro-admin/images`, `/docker`, `/singularity`, `/sif`, `/hubs`, `/release`,
 * `/distro`. A task written against these entries only keeps working across versions.
 * @packageDocumentation
 */

/** Configs: defineConfig for casa.config.ts; loadConfig and mergeConfig for scripts. */
export { defineConfig, loadConfig, mergeConfig } from './config/configEntry.js'
export type { CasaConfig, ResolvedConfig, UserConfig, ConfigEnv } from './config/config.js'
/** Tasks: defineTask gives a task its help, options, completion and run. */
export { defineTask, version, type TaskDefinition, type TaskContext, type OptionSpecs, type OptionValues } from './cli/task.js'
/** Errors: a UserError is printed as one line (no stack trace) and sets the exit code. */
export { UserError, UsageError, exitCodes, isUserError, errorMessage } from './util/errors.js'
/** Throw one error for the failures of a run over several items (each already reported). */
export { throwCollected } from './util/mapLimited.js'
/** Output: ui.result for what was asked (stdout), ui.info/warn/step for progress (stderr). */
export { ui, printable, type Step, type StepOutcome } from './util/ui.js'
/** The one redaction rule: credentials in URLs and known secret shapes masked. */
export { redact } from './util/redact.js'
/** Ctrl-C and SIGTERM: the signal aborted, and cleanups run before exiting. */
export { interruptSignal, onInterrupt } from './util/interrupt.js'
/** Commands: zx's `$`, echoed with -v (masked), killed on Ctrl-C, a failure one line; zx loads on the first command. */
export { $ } from './util/dollar.js'
export type { Dollar, ShellOptions, CommandOutput } from './util/shell.js'
