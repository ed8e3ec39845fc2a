#!/usr/bin/env bash
# Stops a control plane started by scripts/cluster-up.sh DIR (by the PID it recorded) and removes DIR.
. "$(dirname "$0")/lib.sh"
dir=${1:?usage: scripts/cluster-down.sh DIR}
stop_recorded "$dir" "control plane" scripts/cluster-up.sh
rm -rf "$dir"
log "control plane stopped"
