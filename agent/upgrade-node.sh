#!/usr/bin/env bash
# edge-upgrade node agent: upgrades one kubeadm node to TARGET_VERSION.
#
# Runs in the node's pinned, privileged upgrade pod (hostPID) and does its work on the host by
# entering PID 1's namespaces. The workflow has already cordoned and drained the node.
#   NODE_ROLE=first-control-plane  kubeadm upgrade apply -y <version>   (once per cluster)
#   NODE_ROLE=control-plane|worker kubeadm upgrade node
# Order, as in the kubeadm upgrade guide: kubeadm package, kubeadm upgrade, kubelet and kubectl
# packages, then daemon-reload and a kubelet restart.
#
# The community package repositories (pkgs.k8s.io) hold one minor each, so before installing, the
# host's Kubernetes repository (apt sources or yum/dnf repo file, on pkgs.k8s.io or a mirror with
# the same layout) is switched to the target's minor; a missing apt keyring is fetched from it.
#
# Modes: with --prepare (AGENT_MODE=prepare; the prepare phase on cloud nodes, before the masters)
# it only prepares the node, see prepare-node.sh next to this script; with --check it only reads the
# host and reports a JSON probe result (agent/check-node.sh); without either, it upgrades.
#
# Environment: TARGET_VERSION (v1.34.4), NODE_NAME, NODE_ROLE; with --check, HOP_VERSIONS (optional, e.g.
# v1.32.9,v1.33.5: the hops whose repositories a master also needs). AGENT_HOST_EXEC overrides the
# command prefix that reaches the host (default "nsenter -t 1 -m -u -i -n -p --"; set it empty to
# run on the current host, as the tests do). AGENT_APT_SOURCES_DIR and AGENT_YUM_REPOS_DIR override
# where the host's repository files are (default /etc/apt/sources.list.d, /etc/yum.repos.d).
set -euo pipefail

log() { printf 'edge-upgrade agent [%s]: %s\n' "${NODE_NAME:-?}" "$*"; }
fail() { printf 'error: %s\n' "$*" >&2; exit "${2:-1}"; }

: "${TARGET_VERSION:?TARGET_VERSION is required, e.g. v1.34.4}"
: "${NODE_NAME:?NODE_NAME is required}"
: "${NODE_ROLE:?NODE_ROLE is required: first-control-plane, control-plane or worker}"

if [[ ! "$TARGET_VERSION" =~ ^v?([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
  fail "TARGET_VERSION '$TARGET_VERSION' is not a Kubernetes version like v1.34.4" 2
fi
version="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.${BASH_REMATCH[3]}"
minor="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
case "$NODE_ROLE" in
  first-control-plane | control-plane | worker) ;;
  *) fail "NODE_ROLE '$NODE_ROLE' must be first-control-plane, control-plane or worker" 2 ;;
esac

read -r -a host_prefix <<< "${AGENT_HOST_EXEC-nsenter -t 1 -m -u -i -n -p --}"
host() { "${host_prefix[@]}" "$@"; }
run() {
  log "+ $*"
  host "$@" || fail "'$*' failed on $NODE_NAME (exit $?)"
}

if host sh -c 'command -v apt-get' > /dev/null 2>&1; then
  pm=apt
elif host sh -c 'command -v dnf' > /dev/null 2>&1; then
  pm=dnf
elif host sh -c 'command -v yum' > /dev/null 2>&1; then
  pm=yum
else
  fail "no supported package manager (apt-get, dnf, yum) on $NODE_NAME"
fi
log "role $NODE_ROLE, target v$version, package manager $pm"

case "${1:-}" in
  --check)
    # shellcheck disable=SC1091 # shellchecked on its own (test/unit/agent-check.test.ts)
    source "$(dirname "${BASH_SOURCE[0]}")/check-node.sh"
    exit 0
    ;;
esac

# Installs the given packages pinned to the target version (kubeadm, kubelet, kubectl).
install_pinned() {
  local pkgs=() p
  case "$pm" in
    apt)
      for p in "$@"; do pkgs+=("$p=$version-*"); done
      run apt-mark unhold "$@"
      run apt-get update
      run env DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-change-held-packages "${pkgs[@]}"
      run apt-mark hold "$@"
      ;;
    dnf | yum)
      for p in "$@"; do pkgs+=("$p-$version"); done
      run "$pm" install -y --disableexcludes=kubernetes "${pkgs[@]}"
      ;;
  esac
}

# Points the host's pkgs.k8s.io-style repository files at v$minor (the path part
# "core:/stable:/vX.Y/" is per minor); fetches the apt keyring from there when it is missing.
switch_repository() {
  local dir files f minors uri keyring
  case "$pm" in
    apt) dir="${AGENT_APT_SOURCES_DIR:-/etc/apt/sources.list.d}" ;;
    *) dir="${AGENT_YUM_REPOS_DIR:-/etc/yum.repos.d}" ;;
  esac
  mapfile -t files < <(host grep -r -l -s -E 'core:/stable:/v[0-9]+\.[0-9]+/' "$dir" || true)
  if [[ ${#files[@]} -eq 0 ]]; then
    if host grep -r -q -s -E 'apt\.kubernetes\.io|yum\.kubernetes\.io|packages\.cloud\.google\.com' "$dir"; then
      fail "the Kubernetes repository in $dir is the legacy one (apt/yum.kubernetes.io), frozen since September 2023 without v$minor; move $NODE_NAME to pkgs.k8s.io, then resume"
    fi
    log "no per-minor Kubernetes repository (pkgs.k8s.io) in $dir; installing from the configured repositories"
    return 0
  fi
  for f in "${files[@]}"; do
    # Read first, then compare: no early-exiting reader in a pipe (pipefail would see SIGPIPE).
    minors=$(host grep -o -E 'core:/stable:/v[0-9]+\.[0-9]+/' "$f" || true)
    if grep -q -v -F "core:/stable:/v$minor/" <<< "$minors"; then
      run sed -i -E "s#(core:/stable:/)v[0-9]+\.[0-9]+/#\1v$minor/#g" "$f"
    fi
    [[ "$pm" == apt ]] || continue
    keyring=$(host grep -o -E '(signed-by=|Signed-By:[[:space:]]*)[^] ]+' "$f" || true)
    keyring=$(sed -E -n '1s/^(signed-by=|Signed-By:[[:space:]]*)//p' <<< "$keyring")
    if [[ -n "$keyring" ]] && ! host test -s "$keyring"; then
      uri=$(host grep -o -E "https?://[^ ]*core:/stable:/v$minor/deb/" "$f" || true)
      uri=${uri%%$'\n'*}
      [[ -n "$uri" ]] || fail "cannot find the repository URL in $f to fetch its signing key $keyring"
      run sh -c "curl -fsSL '${uri}Release.key' | gpg --dearmor --yes -o '$keyring'"
    fi
  done
}

if [[ "${1:-}" == --prepare ]]; then
  # shellcheck source=agent/prepare-node.sh disable=SC1091
  source "${BASH_SOURCE[0]%/*}/prepare-node.sh"
  prepare_node
  exit 0
fi

switch_repository
install_pinned kubeadm
if [[ "$NODE_ROLE" == first-control-plane ]]; then
  run kubeadm upgrade apply -y "v$version"
else
  run kubeadm upgrade node
fi
install_pinned kubelet kubectl
run systemctl daemon-reload
run systemctl restart kubelet
log "upgraded $NODE_NAME to v$version; kubelet restarted"
