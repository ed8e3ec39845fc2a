#!/usr/bin/env bash
# Prints the path of a Temporal CLI (v1.5.1 dev server). Order: $TEMPORAL_CLI, `temporal` on PATH,
# the cache, else `go install` into the cache (several minutes the first time).
. "$(dirname "$0")/lib.sh"
if [ -n "${TEMPORAL_CLI:-}" ]; then
  [ -x "$TEMPORAL_CLI" ] || die "TEMPORAL_CLI=$TEMPORAL_CLI is not an executable"
  echo "$TEMPORAL_CLI"; exit 0
fi
if command -v temporal >/dev/null 2>&1; then command -v temporal; exit 0; fi
dir="$EDGE_UPGRADE_CACHE/temporal-$TEMPORAL_CLI_VERSION"
if [ ! -x "$dir/temporal" ]; then
  command -v go >/dev/null || die "Go is needed to build the Temporal CLI (or set TEMPORAL_CLI)"
  log "building Temporal CLI v$TEMPORAL_CLI_VERSION into $dir (first run only)"
  mkdir -p "$dir.tmp"
  timed env GOBIN="$dir.tmp" CGO_ENABLED=0 GOFLAGS=-trimpath \
    go install "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_CLI_VERSION" >&2
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir/temporal"
