// What a Singularity/Apptainer runtime expects inside an image converted from Docker, as
// Apptainer's own build of a docker image adds it (docs: apptainer-parity.md, sif-format.md):
// the /.singularity.d tree, its action scripts (run by Singularity 2 and 3; Apptainer 1.x
// runs its own action script but sources our env fragments), the environment fragment
// carrying the docker ENV with casa-distro's *PATH rules, the runscript in Apptainer's docker
// form, the definition file, labels.json, the mount points and the convenience links at /.
import type { NewEntry } from './rootfsTar.js'

export interface ImageRuntimeConfig {
  /** The docker image reference, for comments. */
  reference: string
  env: readonly string[]
  entrypoint: readonly string[]
  cmd: readonly string[]
  labels: Record<string, string>
  /** The definition file, written as /.singularity.d/Singularity (the SIF's Def.FILE too). */
  deffile?: string
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

/** The *PATH variables of the image's ENV that the casa rules apply to (settable from sh). */
export function pathVariables(env: readonly string[]): string[] {
  return env.map((a) => a.slice(0, Math.max(0, a.indexOf('=')))).filter((name) => name.endsWith('PATH') && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
}

/**
 * The docker ENV as a shell fragment, with the original casa-distro rules:
 * a variable named *PATH takes `$V_INIT` instead of the image value when set, then
 * `$V_PREPEND` and `$V_APPEND` are added around it; any other variable keeps the value
 * it already has in the caller's environment and takes the image value only when unset.
 * Where the caller's rule values are seen here (Singularity 2 and 3, whose actions source
 * this in the caller's environment), they are applied and marked so, and 99-zz-casa-env.sh
 * does not apply them twice; under Apptainer 1.x this fragment sees a cleared environment.
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
        `if [ -n "\${${name}_INIT:-}\${${name}_PREPEND:-}\${${name}_APPEND:-}" ]; then __casa_rules_${name}=1; fi`,
        `if [ -n "\${${name}_INIT:-}" ]; then ${name}="\${${name}_INIT}"; else ${name}=${shellQuote(value)}; fi`,
        `if [ -n "\${${name}_PREPEND:-}" ]; then ${name}="\${${name}_PREPEND}:\${${name}}"; fi`,
        `if [ -n "\${${name}_APPEND:-}" ]; then ${name}="\${${name}}:\${${name}_APPEND}"; fi`,
        `export ${name}`,
      )
    } else {
      lines.push(`if [ -z "\${${name}:-}" ]; then ${name}=${shellQuote(value)}; fi`, `export ${name}`)
    }
  }
  return `${lines.join('\n')}\n`
}

/**
 * The casa rules for values Apptainer 1.x forwards (`--env PATH_PREPEND=/x`,
 * `APPTAINERENV_PATH_PREPEND=/x`): its action script clears the environment, sources the env
 * fragments in order and injects the forwarded values right after 99-base.sh, so a fragment
 * sorted after it sees them. A variable the docker fragment already handled is left alone.
 */
export function casaEnvScript(config: Pick<ImageRuntimeConfig, 'env'>): string {
  const lines = [
    '#!/bin/sh',
    "# casa-distro's <VAR>_INIT, <VAR>_PREPEND and <VAR>_APPEND rules for the *PATH variables of",
    '# the docker ENV, for values forwarded by Apptainer 1.x (--env, APPTAINERENV_<VAR>), which',
    '# it injects after 99-base.sh. Under Singularity 2/3 10-docker2singularity.sh applied them.',
  ]
  for (const name of pathVariables(config.env)) {
    const libs = name === 'LD_LIBRARY_PATH' ? `; ${name}="\${${name}}:/.singularity.d/libs"` : ''
    lines.push(
      `if [ -z "\${__casa_rules_${name}:-}" ]; then`,
      `    if [ -n "\${${name}_INIT:-}" ]; then ${name}="\${${name}_INIT}"${libs}; fi`,
      `    if [ -n "\${${name}_PREPEND:-}" ]; then ${name}="\${${name}_PREPEND}:\${${name}}"; fi`,
      `    if [ -n "\${${name}_APPEND:-}" ]; then ${name}="\${${name}}:\${${name}_APPEND}"; fi`,
      `    export ${name}`,
      'fi',
      `unset __casa_rules_${name}`,
    )
  }
  return `${lines.join('\n')}\n`
}

/** Words for the runscript's eval: each double-quoted, with the characters special there escaped. */
function evalWords(words: readonly string[]): string {
  return words.map((w) => `"${w.replace(/[\\"$`]/g, (c) => `\\${c}`)}"`).join(' ')
}

/** `set -- 'w1' 'w2' "$@"`: the words put before the arguments, as they are. */
function prepend(words: readonly string[]): string {
  return `set -- ${words.map(shellQuote).join(' ')} "$@"`
}

/**
 * ENTRYPOINT then CMD, arguments replacing CMD as with `docker run`, in the form Apptainer's
 * build writes for docker images: Apptainer's runtime recognises the exact line
 * `eval "set ${SINGULARITY_OCI_RUN}"` and runs the script with its own shell, so an image with
 * no /bin/sh runs too. By default each argument is evaluated by the shell as Apptainer does
 * (`run img '$HOME'` expands); APPTAINER_NO_EVAL or SINGULARITY_NO_EVAL pass them as they are.
 */
export function runscript(config: Pick<ImageRuntimeConfig, 'entrypoint' | 'cmd'>): string {
  const { entrypoint, cmd } = config
  const literal = [
    'if [ $# -eq 0 ]; then',
    cmd.length ? `    ${prepend(cmd)}` : entrypoint.length ? '    :' : '    set -- /bin/sh',
    'fi',
    ...(entrypoint.length ? [prepend(entrypoint)] : []),
  ]
  return [
    '#!/bin/sh',
    '# The docker ENTRYPOINT followed by CMD; arguments replace CMD.',
    `OCI_ENTRYPOINT=${shellQuote(evalWords(entrypoint))}`,
    `OCI_CMD=${shellQuote(cmd.length || entrypoint.length ? evalWords(cmd) : '"/bin/sh"')}`,
    '',
    '# --no-eval (APPTAINER_NO_EVAL, SINGULARITY_NO_EVAL): the words as they are, not evaluated.',
    'if [ -n "${APPTAINER_NO_EVAL:-}" ] || [ -n "${SINGULARITY_NO_EVAL:-}" ]; then',
    ...literal.map((l) => `    ${l}`),
    '    exec "$@"',
    'fi',
    '',
    "# Apptainer's default: the arguments evaluated by the shell, each within double quotes.",
    'CMDLINE_ARGS=""',
    'for arg in "$@"; do',
    '    CMDLINE_ARGS="${CMDLINE_ARGS} \\"$arg\\""',
    'done',
    '# (-- first: a first word starting with - is a command, not an option of set)',
    'if [ $# -gt 0 ]; then',
    '    SINGULARITY_OCI_RUN="-- ${OCI_ENTRYPOINT} ${CMDLINE_ARGS}"',
    'else',
    '    SINGULARITY_OCI_RUN="-- ${OCI_ENTRYPOINT} ${OCI_CMD}"',
    'fi',
    'eval "set ${SINGULARITY_OCI_RUN}"',
    'exec "$@"',
    '',
  ].join('\n')
}

const base01 = `#!/bin/sh
# Sourced first by the runtime; nothing to set (Apptainer's build writes it too).
`

const apps95 = `#!/bin/sh
# SCIF apps (--app NAME): their PATH, LD_LIBRARY_PATH and environment, as Apptainer's build
# writes this fragment. A docker image has no /scif/apps, so this is a no-op unless asked.
__casa_app="\${APPTAINER_APPNAME:-\${SINGULARITY_APPNAME:-}}"
if [ -n "$__casa_app" ]; then
    if [ -d "/scif/apps/$__casa_app/" ]; then
        SCIF_APPS="/scif/apps"
        SCIF_APPROOT="/scif/apps/$__casa_app"
        export SCIF_APPROOT SCIF_APPS
        PATH="/scif/apps/$__casa_app:$PATH"
        if [ -d "/scif/apps/$__casa_app/bin" ]; then PATH="/scif/apps/$__casa_app/bin:$PATH"; fi
        if [ -d "/scif/apps/$__casa_app/lib" ]; then
            LD_LIBRARY_PATH="/scif/apps/$__casa_app/lib:$LD_LIBRARY_PATH"
            export LD_LIBRARY_PATH
        fi
        for __casa_env in 01-base.sh 90-environment.sh; do
            if [ -f "/scif/apps/$__casa_app/scif/env/$__casa_env" ]; then . "/scif/apps/$__casa_app/scif/env/$__casa_env"; fi
        done
        export PATH
    else
        echo "Could not locate the container application: $__casa_app"
        exit 1
    fi
fi
unset __casa_app __casa_env
`

const base = `#!/bin/sh
# Libraries bound by the runtime under /.singularity.d/libs come last.
if [ -z "$LD_LIBRARY_PATH" ]; then
    LD_LIBRARY_PATH="/.singularity.d/libs"
else
    LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/.singularity.d/libs"
fi
# A prompt only where the caller has none (Apptainer's own 99-base.sh does the same).
if [ -z "\${PS1:-}" ]; then
    PS1="Apptainer> "
fi
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
  /** Files added only when missing (none today; kept for layouts that need them). */
  filesIfMissing: NewEntry[]
  /** Files and links that replace whatever the image has at their paths. */
  replaced: NewEntry[]
}

export function singularityLayout(config: ImageRuntimeConfig): Layout {
  const dir = (path: string, mode = 0o755): NewEntry => ({ path, type: 'directory', mode })
  const file = (path: string, content: string, mode = 0o755): NewEntry => ({ path, type: 'file', mode, content })
  const link = (path: string, target: string): NewEntry => ({ path, type: 'symlink', mode: 0o777, target })
  const directories = [
    // 0755 as Apptainer's build makes them (the runtime binds over /tmp, /var/tmp, /root...).
    ...mountPoints.map((p) => dir(p)),
    dir('.singularity.d'),
    dir('.singularity.d/actions'),
    dir('.singularity.d/env'),
    dir('.singularity.d/libs'),
  ]
  const replaced: NewEntry[] = [
    ...Object.entries(actions).map(([name, script]) => file(`.singularity.d/actions/${name}`, script)),
    file('.singularity.d/env/01-base.sh', base01),
    file('.singularity.d/env/10-docker2singularity.sh', dockerEnvScript(config)),
    file('.singularity.d/env/90-environment.sh', '#!/bin/sh\n# Custom environment shell code should follow\n'),
    file('.singularity.d/env/95-apps.sh', apps95),
    file('.singularity.d/env/99-base.sh', base),
    file('.singularity.d/env/99-runtimevars.sh', runtimeVars),
    file('.singularity.d/env/99-zz-casa-env.sh', casaEnvScript(config)),
    file('.singularity.d/runscript', runscript(config)),
    file('.singularity.d/startscript', '#!/bin/sh\n'),
    file('.singularity.d/Singularity', config.deffile ?? '', 0o644),
    file('.singularity.d/labels.json', `${JSON.stringify(config.labels, null, 2)}\n`, 0o644),
    // Empty, mode 0644, whatever the image holds there: Apptainer's build truncates them
    // and the runtime binds the host's over them.
    file('etc/hosts', '', 0o644),
    file('etc/resolv.conf', '', 0o644),
    link('apptainer', '.singularity.d/runscript'),
    link('singularity', '.singularity.d/runscript'),
    link('.run', '.singularity.d/actions/run'),
    link('.exec', '.singularity.d/actions/exec'),
    link('.shell', '.singularity.d/actions/shell'),
    link('.test', '.singularity.d/actions/test'),
    link('environment', '.singularity.d/env/90-environment.sh'),
  ]
  const filesIfMissing: NewEntry[] = []
  return { directories, filesIfMissing, replaced }
}
