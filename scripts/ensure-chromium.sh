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
apt_install "no chromium found for the browser test (or set EDGE_UPGRADE_CHROMIUM)" chromium
command -v chromium
