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

# Stops the process whose PID DIR/pid recorded (a background stack of ours): SIGTERM, then waits up to
# TRIES half-seconds (default 60) for it to exit. Usage: stop_recorded DIR WHAT STARTER [TRIES]; dies
# naming WHAT when there is no pid file or it does not stop.
stop_recorded() {
  local dir=$1 what=$2 starter=$3 tries=${4:-60} pid
  [ -f "$dir/pid" ] || die "$dir/pid not found: was the $what started with $starter $dir?"
  pid=$(cat "$dir/pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 "$tries"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
  if kill -0 "$pid" 2>/dev/null; then die "the $what (pid $pid) did not stop"; fi
}

# Installs Debian packages with apt-get (as root, or through sudo). Usage: apt_install WHY PACKAGE...;
# without apt-get it dies saying WHY the packages were wanted.
apt_install() {
  local why=$1; shift
  command -v apt-get >/dev/null || die "$why, and there is no apt-get to install $*"
  local sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  log "installing Debian's $*"
  "${sudo[@]}" apt-get update -qq >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
}
