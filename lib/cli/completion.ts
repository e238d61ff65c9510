// `casa_distro_admin completion bash`: a static completion script generated from the task
// definitions, so pressing TAB starts no node process.
import type { TaskDefinition } from './task.js'

const globalWords = ['-r', '--repository', '-v', '--verbose', '--config', '--help', '--version']

export function bashCompletion(tasks: readonly TaskDefinition[]): string {
  const cases = tasks
    .map((task) => {
      const words = Object.entries(task.options).flatMap(([name, spec]) => [
        `${name}=`,
        `--${name.replace(/_/g, '-')}`,
        ...(spec.type === 'boolean' ? [`--no-${name.replace(/_/g, '-')}`] : []),
      ])
      return `        ${task.name}) words="${words.join(' ')} ${globalWords.join(' ')}" ;;`
    })
    .join('\n')
  return `# bash completion for casa_distro_admin; load it with:
#   source <(casa_distro_admin completion bash)
_casa_distro_admin() {
    local cur="\${COMP_WORDS[COMP_CWORD]}" task="" i words
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "\${COMP_WORDS[i]}" in
            -r|--repository|--config) ((i++)) ;;
            -*) ;;
            *) task="\${COMP_WORDS[i]}"; break ;;
        esac
    done
    case "\${COMP_WORDS[COMP_CWORD-1]}" in
        -r|--repository) COMPREPLY=($(compgen -d -- "$cur")); return ;;
        --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
    esac
    if [ -z "$task" ]; then
        words="help completion ${tasks.map((t) => t.name).join(' ')} ${globalWords.join(' ')}"
    else
        case "$task" in
${cases}
        help) words="help completion ${tasks.map((t) => t.name).join(' ')}" ;;
        completion) words="bash" ;;
        *) words="" ;;
        esac
    fi
    compopt -o nospace 2>/dev/null
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
    # a finished word gets its space back; key= waits for its value
    if [ \${#COMPREPLY[@]} -eq 1 ] && [[ "\${COMPREPLY[0]}" != *= ]]; then COMPREPLY[0]+=" "; fi
}
complete -F _casa_distro_admin casa_distro_admin
`
}
