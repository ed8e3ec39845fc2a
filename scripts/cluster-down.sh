#!/usr/bin/env bash
# Stops a control plane started by scripts/cluster-up.sh DIR (by the PID it recorded) and removes DIR.
. "$(dirname "$0")/lib.sh"
dir=${1:?usage: scripts/cluster-down.sh DIR}
[ -f "$dir/pid" ] || die "$dir/pid not found: was the cluster started with scripts/cluster-up.sh $dir?"
pid=$(cat "$dir/pid")
if kill -0 "$pid" 2>/dev/null; then
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
fi
kill -0 "$pid" 2>/dev/null && die "control plane (pid $pid) did not stop"
rm -rf "$dir"
log "control plane stopped"
