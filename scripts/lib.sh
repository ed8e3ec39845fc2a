# Shared helpers for the scripts; source it, do not run it.
# shellcheck shell=bash
set -euo pipefail
SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$SCRIPTS_DIR/.." && pwd)
# shellcheck source=versions.env
. "$SCRIPTS_DIR/versions.env"
EDGE_UPGRADE_CACHE=${EDGE_UPGRADE_CACHE:-$HOME/.cache/edge-upgrade}
export EDGE_UPGRADE_CACHE

log() { printf '[edge-upgrade] %s\n' "$*" >&2; }
die() { printf '[edge-upgrade] error: %s\n' "$*" >&2; exit 1; }

# Runs "$@" and prints wall time and peak RSS (from /usr/bin/time when present) to stderr.
timed() {
  local start end
  start=$(date +%s)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '[edge-upgrade] peak RSS %M KB' "$@"
  else
    "$@"
  fi
  end=$(date +%s)
  log "took $((end - start))s: $*"
}
