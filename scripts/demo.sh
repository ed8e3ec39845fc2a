#!/usr/bin/env bash
# The main command: provisions everything (first run builds the tools, see README), then runs
# `edge-upgrade demo`: a local Temporal dev server with its Web UI, a real Kubernetes control plane,
# 3 masters and 50 simulated workers, a worker and an upgrade with live progress. Extra arguments
# go to `edge-upgrade demo` (see --help). Ctrl-C stops everything it started.
. "$(dirname "$0")/env.sh"
exec node "$ROOT_DIR/bin/edge-upgrade.js" demo "$@"
