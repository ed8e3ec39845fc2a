# Source this: provisions Node 24, the npm dependencies, the build, the Temporal CLI, Kubernetes and
# etcd (each cached by version under $EDGE_UPGRADE_CACHE, default ~/.cache/edge-upgrade), and exports
# PATH, TEMPORAL_CLI, EDGE_UPGRADE_K8S_BIN and EDGE_UPGRADE_ETCD for what runs next.
# shellcheck shell=bash
_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$_here/lib.sh"
NODE_BIN_DIR=$(bash "$_here/ensure-node.sh")
export PATH="$NODE_BIN_DIR:$PATH"
cd "$ROOT_DIR"
# Reinstall only when the lockfile changed since the last install in this checkout. A finished install is
# kept outside the checkout, keyed by the lockfile and Node's version ($EDGE_UPGRADE_CACHE/node_modules-KEY,
# or EDGE_UPGRADE_NODE_MODULES_CACHE=off for none): a fresh clone hardlinks it in (seconds) instead of
# running npm ci again (a minute). Nothing here writes into an installed file, so the links stay shared.
_lock_sum=$(cat package-lock.json <(node --version) | sha256sum | cut -c1-16)
if [ ! -f node_modules/.edge-upgrade-lock ] || [ "$(cat node_modules/.edge-upgrade-lock)" != "$_lock_sum" ]; then
  _nm_cache="$EDGE_UPGRADE_CACHE/node_modules-$_lock_sum"
  rm -rf node_modules
  if [ "${EDGE_UPGRADE_NODE_MODULES_CACHE:-on}" != off ] && [ -f "$_nm_cache/.edge-upgrade-lock" ]; then
    log "linking npm dependencies from $_nm_cache"
    cp -al "$_nm_cache" node_modules
  else
    log "installing npm dependencies (npm ci)"
    # --prefer-offline: packages and their metadata come from npm's own cache when it has them (the lockfile pins
    # versions and integrity hashes either way), without asking the registry whether they changed.
    npm ci --no-audit --no-fund --prefer-offline --loglevel=error >&2
    echo "$_lock_sum" > node_modules/.edge-upgrade-lock
    if [ "${EDGE_UPGRADE_NODE_MODULES_CACHE:-on}" != off ]; then
      rm -rf "$_nm_cache.tmp" && mkdir -p "$EDGE_UPGRADE_CACHE"
      cp -al node_modules "$_nm_cache.tmp" && rm -rf "$_nm_cache" && mv "$_nm_cache.tmp" "$_nm_cache"
    fi
  fi
fi
npm run --silent build >&2
TEMPORAL_CLI=$(bash "$_here/ensure-temporal.sh")
export TEMPORAL_CLI
# EDGE_UPGRADE_NO_CLUSTER=1 (scripts/test.sh --quick): no control plane is needed, so Kubernetes and etcd are not built.
if [ "${EDGE_UPGRADE_NO_CLUSTER:-0}" = 1 ]; then
  log "node $(node --version), temporal $TEMPORAL_CLI (no Kubernetes: EDGE_UPGRADE_NO_CLUSTER=1)"
else
  EDGE_UPGRADE_ETCD=$(bash "$_here/ensure-etcd.sh")
  EDGE_UPGRADE_K8S_BIN=$(bash "$_here/ensure-k8s.sh")
  export EDGE_UPGRADE_ETCD EDGE_UPGRADE_K8S_BIN
  log "node $(node --version), temporal $TEMPORAL_CLI, kubernetes $EDGE_UPGRADE_K8S_BIN, etcd $EDGE_UPGRADE_ETCD"
fi
