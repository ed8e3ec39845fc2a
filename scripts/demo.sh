#!/usr/bin/env bash
# The main command: provisions everything (first run builds the tools, see docs/install.md), then runs
# `edge-upgrade demo`: a local Temporal dev server with its Web UI, a real Kubernetes control plane,
# 3 masters and 50 simulated workers, a worker and an upgrade with live progress. Extra arguments
# go to `edge-upgrade demo` (see --help). Ctrl-C stops everything it started.
# --help and a mistyped flag are answered at once, before anything is built (the first build takes long).
usage() {
  cat <<'USAGE'
Usage: scripts/demo.sh [options]

Runs everything locally: a Temporal dev server with its Web UI, a Kubernetes control plane, simulated
edge nodes, a worker and an upgrade with live progress. The first run builds the tools (see docs/install.md).

Options (those of `edge-upgrade demo`):
  --masters <n>          control-plane nodes (default: 3)
  --cloud <n>            cloud workers (default: 5)
  --edge <n>             edge workers (default: 45)
  --from <version>       starting version (default: "v1.33.7")
  --to <version>         target version (default: "v1.34.4")
  --upgrade-seconds <n>  how long each simulated node upgrade takes (default: 3)
  --stay                 keep everything running after the upgrade until Ctrl-C (to explore the Web UI)
  -h, --help             show this help
USAGE
}
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage; exit 0 ;;
    --masters | --cloud | --edge | --from | --to | --upgrade-seconds | --stay) ;;
    --masters=* | --cloud=* | --edge=* | --from=* | --to=* | --upgrade-seconds=*) ;;
    -*) echo "demo.sh: unknown option '$arg' (see scripts/demo.sh --help)" >&2; exit 2 ;;
  esac
done
. "$(dirname "$0")/env.sh"
exec node "$ROOT_DIR/bin/edge-upgrade.js" demo "$@"
