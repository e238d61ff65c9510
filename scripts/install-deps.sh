#!/usr/bin/env bash
# Installs the Debian packages the tests, benchmarks and demo use (real services, no mocks).
# Idempotent: skips apt entirely when everything is already there.
set -euo pipefail
packages=(
  docker.io containerd runc iptables   # the Docker engine
  docker-registry apache2-utils skopeo # the reference registry, htpasswd, an OCI inspector
  openssh-server openssh-client        # sshd and the sftp client that checks uploads
  siftool squashfs-tools squashfs-tools-ng busybox-static
  umoci mmdebstrap                     # the OCI unpacking Apptainer follows; a Debian base image
  attr                                 # getfattr: opaque directories of the engine's overlay2 layers
  chromium                             # renders release_plan.html in tests
  lftp zip unzip git ca-certificates hyperfine
  golang-go golang-github-sylabs-sif-dev # the SIF library's pkg/integrity: the judge of signatures
  rclone                               # the wan bench measures rclone sync against our sftp mirror
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
