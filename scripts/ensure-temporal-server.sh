#!/usr/bin/env bash
# Prints the folder holding temporal-server and temporal-sql-tool (Temporal Server v$TEMPORAL_SERVER_VERSION,
# for the production lane: scripts/prod-stack.sh). Order: $EDGE_UPGRADE_TEMPORAL_SERVER_DIR, the cache, else
# `go install` of go.temporal.io/server's cmd/server and cmd/tools/sql into the cache (minutes the first time).
. "$(dirname "$0")/lib.sh"
if [ -n "${EDGE_UPGRADE_TEMPORAL_SERVER_DIR:-}" ]; then
  for b in temporal-server temporal-sql-tool; do
    [ -x "$EDGE_UPGRADE_TEMPORAL_SERVER_DIR/$b" ] ||
      die "EDGE_UPGRADE_TEMPORAL_SERVER_DIR=$EDGE_UPGRADE_TEMPORAL_SERVER_DIR has no executable $b"
  done
  echo "$EDGE_UPGRADE_TEMPORAL_SERVER_DIR"; exit 0
fi
dir="$EDGE_UPGRADE_CACHE/temporal-server-$TEMPORAL_SERVER_VERSION"
if [ ! -x "$dir/temporal-server" ] || [ ! -x "$dir/temporal-sql-tool" ]; then
  command -v go >/dev/null || die "Go is needed to build the Temporal Server (or set EDGE_UPGRADE_TEMPORAL_SERVER_DIR)"
  log "building Temporal Server v$TEMPORAL_SERVER_VERSION and its SQL tool into $dir (first run only)"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  timed env GOBIN="$dir.tmp" CGO_ENABLED=0 GOFLAGS=-trimpath go install \
    "go.temporal.io/server/cmd/server@v$TEMPORAL_SERVER_VERSION" \
    "go.temporal.io/server/cmd/tools/sql@v$TEMPORAL_SERVER_VERSION" >&2
  mv "$dir.tmp/server" "$dir.tmp/temporal-server"
  mv "$dir.tmp/sql" "$dir.tmp/temporal-sql-tool"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir"
