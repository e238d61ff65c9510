// What a Singularity/Apptainer runtime expects inside an image converted from Docker (see
// docs/sif-format.md): the /.singularity.d tree, its action scripts, the environment
// fragment carrying the docker ENV with casa-distro's *PATH rules, the runscript from
// ENTRYPOINT and CMD, labels.json, mount points and the convenience links at /.
import type { NewEntry } from './rootfsTar.js'

export interface ImageRuntimeConfig {
  /** The docker image reference, for comments. */
  reference: string
  env: readonly string[]
  entrypoint: readonly string[]
  cmd: readonly string[]
  labels: Record<string, string>
}

/** A word for /bin/sh, single-quoted. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`
}

const sourceEnv = `for script in /.singularity.d/env/*.sh; do
    if [ -f "$script" ]; then
        . "$script"
    fi
done
`

const actions: Record<string, string> = {
  exec: `#!/bin/sh
${sourceEnv}
exec "$@"
`,
  run: `#!/bin/sh
${sourceEnv}
if [ -x /.singularity.d/runscript ]; then
    exec /.singularity.d/runscript "$@"
fi
exec /bin/sh "$@"
`,
  shell: `#!/bin/sh
${sourceEnv}
if [ -n "$APPTAINER_SHELL" ] && [ -x "$APPTAINER_SHELL" ]; then
    exec "$APPTAINER_SHELL" "$@"
elif [ -n "$SINGULARITY_SHELL" ] && [ -x "$SINGULARITY_SHELL" ]; then
    exec "$SINGULARITY_SHELL" "$@"
elif [ -x /bin/bash ]; then
    SHELL=/bin/bash
    export SHELL
    exec /bin/bash --norc "$@"
fi
SHELL=/bin/sh
export SHELL
exec /bin/sh "$@"
`,
  start: `#!/bin/sh
${sourceEnv}
kill -CONT 1 2>/dev/null
if [ -x /.singularity.d/startscript ]; then
    exec /.singularity.d/startscript "$@"
fi
`,
  test: `#!/bin/sh
${sourceEnv}
if [ -x /.singularity.d/test ]; then
    exec /.singularity.d/test "$@"
fi
exit 0
`,
}

/**
 * The docker ENV as a shell fragment, with the original casa-distro rules:
 * a variable named *PATH takes `$V_INIT` instead of the image value when set, then
 * `$V_PREPEND` and `$V_APPEND` are added around it; any other variable keeps the value
 * it already has in the caller's environment and takes the image value only when unset.
 */
export function dockerEnvScript(config: Pick<ImageRuntimeConfig, 'env' | 'reference'>): string {
  const lines = ['#!/bin/sh', `# Environment of the docker image ${config.reference.replace(/\n/g, ' ')}.`]
  for (const assignment of config.env) {
    const eq = assignment.indexOf('=')
    if (eq <= 0) continue
    const name = assignment.slice(0, eq)
    const value = assignment.slice(eq + 1)
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue // not settable from sh
    if (name.endsWith('PATH')) {
      lines.push(
        `if [ -n "\${${name}_INIT}" ]; then ${name}="\${${name}_INIT}"; else ${name}=${shellQuote(value)}; fi`,
        `if [ -n "\${${name}_PREPEND}" ]; then ${name}="\${${name}_PREPEND}:\${${name}}"; fi`,
        `if [ -n "\${${name}_APPEND}" ]; then ${name}="\${${name}}:\${${name}_APPEND}"; fi`,
        `export ${name}`,
      )
    } else {
      lines.push(`if [ -z "\${${name}}" ]; then export ${name}=${shellQuote(value)}; fi`)
    }
  }
  return `${lines.join('\n')}\n`
}

/** ENTRYPOINT then CMD; arguments given to the image replace CMD, as with `docker run`. */
export function runscript(config: Pick<ImageRuntimeConfig, 'entrypoint' | 'cmd'>): string {
  const entrypoint = config.entrypoint.map(shellQuote).join(' ')
  const cmd = config.cmd.map(shellQuote).join(' ')
  const lines = ['#!/bin/sh', '# The docker ENTRYPOINT followed by CMD; arguments replace CMD.']
  if (entrypoint) {
    lines.push(`if [ $# -gt 0 ]; then exec ${entrypoint} "$@"; fi`, `exec ${entrypoint}${cmd ? ` ${cmd}` : ''}`)
  } else {
    lines.push(`if [ $# -gt 0 ]; then exec "$@"; fi`, cmd ? `exec ${cmd}` : 'exec /bin/sh')
  }
  return `${lines.join('\n')}\n`
}

const base = `#!/bin/sh
# Libraries bound by the runtime under /.singularity.d/libs come last.
if [ -z "$LD_LIBRARY_PATH" ]; then
    LD_LIBRARY_PATH="/.singularity.d/libs"
else
    LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/.singularity.d/libs"
fi
PS1="Apptainer> "
export LD_LIBRARY_PATH PS1
`

const runtimeVars = `#!/bin/sh
# PATH overrides given to the runtime (--env PATH, APPTAINERENV_PREPEND_PATH/APPEND_PATH).
if [ -n "\${SING_USER_DEFINED_PATH:-}" ]; then
    PATH="$SING_USER_DEFINED_PATH"
fi
if [ -n "\${SING_USER_DEFINED_PREPEND_PATH:-}" ]; then
    PATH="$SING_USER_DEFINED_PREPEND_PATH:$PATH"
fi
if [ -n "\${SING_USER_DEFINED_APPEND_PATH:-}" ]; then
    PATH="$PATH:$SING_USER_DEFINED_APPEND_PATH"
fi
export PATH
unset SING_USER_DEFINED_PATH SING_USER_DEFINED_PREPEND_PATH SING_USER_DEFINED_APPEND_PATH
`

/** Directories a runtime binds over, created when the image lacks them. */
export const mountPoints = ['dev', 'proc', 'sys', 'tmp', 'var', 'var/tmp', 'home', 'root', 'etc'] as const

export interface Layout {
  /** Directories added only when the image has none at that path (its own modes win). */
  directories: NewEntry[]
  /** Empty files added only when missing (/etc/hosts, /etc/resolv.conf). */
  filesIfMissing: NewEntry[]
  /** Files and links that replace whatever the image has at their paths. */
  replaced: NewEntry[]
}

export function singularityLayout(config: ImageRuntimeConfig): Layout {
  const dir = (path: string, mode = 0o755): NewEntry => ({ path, type: 'directory', mode })
  const file = (path: string, content: string, mode = 0o755): NewEntry => ({ path, type: 'file', mode, content })
  const link = (path: string, target: string): NewEntry => ({ path, type: 'symlink', mode: 0o777, target })
  const directories = [
    ...mountPoints.map((p) => dir(p, p === 'tmp' || p === 'var/tmp' ? 0o1777 : p === 'root' ? 0o700 : 0o755)),
    dir('.singularity.d'),
    dir('.singularity.d/actions'),
    dir('.singularity.d/env'),
    dir('.singularity.d/libs'),
  ]
  const replaced: NewEntry[] = [
    ...Object.entries(actions).map(([name, script]) => file(`.singularity.d/actions/${name}`, script)),
    file('.singularity.d/env/10-docker2singularity.sh', dockerEnvScript(config)),
    file('.singularity.d/env/90-environment.sh', '#!/bin/sh\n# Custom environment shell code should follow\n'),
    file('.singularity.d/env/99-base.sh', base),
    file('.singularity.d/env/99-runtimevars.sh', runtimeVars),
    file('.singularity.d/runscript', runscript(config)),
    file('.singularity.d/labels.json', `${JSON.stringify(config.labels, null, 2)}\n`, 0o644),
    link('singularity', '.singularity.d/runscript'),
    link('.run', '.singularity.d/actions/run'),
    link('.exec', '.singularity.d/actions/exec'),
    link('.shell', '.singularity.d/actions/shell'),
    link('.test', '.singularity.d/actions/test'),
    link('environment', '.singularity.d/env/90-environment.sh'),
  ]
  const filesIfMissing = [file('etc/hosts', '', 0o644), file('etc/resolv.conf', '', 0o644)]
  return { directories, filesIfMissing, replaced }
}
