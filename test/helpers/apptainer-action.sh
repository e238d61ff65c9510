#!/bin/sh
# The harness's action script: see apptainerHarness.ts. Run by a static busybox sh in a chroot.
__cmd=$1
shift
# The caller's exported variables, kept to be restored at the end.
export -p > /.casa-harness/saved
for __v in $(/.casa-harness/busybox env | /.casa-harness/busybox sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p'); do
    case "$__v" in
    PWD|HOME) ;;
    *) unset "$__v" ;;
    esac
done
# Apptainer's fixpath: the default directories missing from PATH appended.
fixpath() {
    __p="${PATH:-}"
    for __d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
        case ":$__p:" in
        *":$__d:"*) ;;
        *) __p="${__p:+$__p:}$__d" ;;
        esac
    done
    echo "$__p"
}
if [ -d /.singularity.d/env ]; then
    for __script in /.singularity.d/env/*.sh; do
        [ -f "$__script" ] || continue
        case "$__script" in
        /.singularity.d/env/90-environment.sh)
            if [ -z "${PATH+x}" ]; then export PATH="$(fixpath)"; fi
            . "$__script" ;;
        /.singularity.d/env/10-docker2singularity.sh|/.singularity.d/env/10-docker.sh)
            . "$__script"
            export PATH="$(fixpath)" ;;
        /.singularity.d/env/99-base.sh)
            . "$__script"
            . /.casa-harness/inject.sh ;;
        *)
            . "$__script" ;;
        esac
    done
fi
# The caller's variables back, those the image did not set; empty ones unset.
while IFS= read -r __line; do
    __name=$(echo "$__line" | /.casa-harness/busybox sed -n 's/^export \([A-Za-z_][A-Za-z0-9_]*\).*/\1/p')
    [ -n "$__name" ] || continue
    if eval "[ -z \"\${$__name+x}\" ]"; then
        eval "$__line"
    elif eval "[ -z \"\${$__name}\" ]"; then
        unset "$__name"
    fi
done < /.casa-harness/saved
unset __v __d __p __script __line __name
case "$__cmd" in
exec)
    exec "$@" ;;
run)
    if /.casa-harness/busybox grep -qx 'eval "set ${SINGULARITY_OCI_RUN}"' /.singularity.d/runscript 2>/dev/null; then
        . /.singularity.d/runscript
    fi
    exec /.singularity.d/runscript "$@" ;;
esac
echo "unknown action $__cmd" >&2
exit 1
