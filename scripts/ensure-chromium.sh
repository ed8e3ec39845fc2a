#!/usr/bin/env bash
# Prints the path of a Chromium for the browser test, installing Debian's `chromium` package when
# missing (CI runs as root). $EDGE_UPGRADE_CHROMIUM overrides.
. "$(dirname "$0")/lib.sh"
if [ -n "${EDGE_UPGRADE_CHROMIUM:-}" ]; then
  [ -x "$EDGE_UPGRADE_CHROMIUM" ] || die "EDGE_UPGRADE_CHROMIUM=$EDGE_UPGRADE_CHROMIUM is not an executable"
  echo "$EDGE_UPGRADE_CHROMIUM"; exit 0
fi
for c in chromium chromium-browser; do
  if command -v "$c" >/dev/null 2>&1; then command -v "$c"; exit 0; fi
done
command -v apt-get >/dev/null || die "no chromium found and no apt-get to install it; set EDGE_UPGRADE_CHROMIUM"
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
log "installing Debian's chromium for the browser test"
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
command -v chromium
