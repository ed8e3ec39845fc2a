#!/usr/bin/env bash
# Starts a local Kubernetes control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler) on free loopback ports, in the background. Usage: scripts/cluster-up.sh [DIR]
# Prints DIR; DIR/kubeconfig is for kubectl, the CLI and the worker. Stop it with scripts/cluster-down.sh DIR.
. "$(dirname "$0")/env.sh"
dir=${1:-$(mktemp -d "${TMPDIR:-/tmp}/edge-upgrade-cluster.XXXXXX")}
mkdir -p "$dir"
rm -f "$dir/ready"
nohup node "$ROOT_DIR/dist/local/cluster-cli.js" --dir "$dir" --k8s-bin "$EDGE_UPGRADE_K8S_BIN" --etcd "$EDGE_UPGRADE_ETCD" \
  > "$dir/cluster.log" 2>&1 &
echo $! > "$dir/pid"
for _ in $(seq 1 240); do
  [ -f "$dir/ready" ] && { log "control plane up; kubeconfig: $dir/kubeconfig"; echo "$dir"; exit 0; }
  kill -0 "$(cat "$dir/pid")" 2>/dev/null || die "control plane failed to start: $(tail -5 "$dir/cluster.log")"
  sleep 0.5
done
die "control plane did not become ready in 120 s; see $dir/cluster.log"
