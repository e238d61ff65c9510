#!/usr/bin/env bash
# Starts a Docker engine in the background when none answers, and waits until it does.
# Used by .ci/run, the test harness and the demo; a running engine is left alone.
set -euo pipefail
docker info >/dev/null 2>&1 && exit 0
log=${DOCKERD_LOG:-/tmp/casa-dockerd.log}
# Two callers at once (parallel test files) start only one engine.
exec 9>/tmp/casa-dockerd.lock
flock 9
if ! docker info >/dev/null 2>&1; then
  if ! pgrep -x dockerd >/dev/null; then
    echo "starting dockerd (log: $log)" >&2
    nohup dockerd >"$log" 2>&1 &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
fi
docker info >/dev/null 2>&1 || { echo "dockerd did not start; see $log" >&2; tail -5 "$log" >&2; exit 1; }
