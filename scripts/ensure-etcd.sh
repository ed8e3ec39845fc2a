#!/usr/bin/env bash
# Prints the path of an etcd server binary built from go.etcd.io/etcd/server/v3 (tools/etcd pins it).
# $EDGE_UPGRADE_ETCD overrides; the build is cached in $EDGE_UPGRADE_CACHE/etcd-v<version>.
. "$(dirname "$0")/lib.sh"
if [ -n "${EDGE_UPGRADE_ETCD:-}" ]; then
  [ -x "$EDGE_UPGRADE_ETCD" ] || die "EDGE_UPGRADE_ETCD=$EDGE_UPGRADE_ETCD is not an executable"
  echo "$EDGE_UPGRADE_ETCD"; exit 0
fi
dir="$EDGE_UPGRADE_CACHE/etcd-v$ETCD_VERSION"
if [ ! -x "$dir/etcd" ]; then
  command -v go >/dev/null || die "Go is needed to build etcd (or set EDGE_UPGRADE_ETCD)"
  grep -q "go.etcd.io/etcd/server/v3 v$ETCD_VERSION" "$ROOT_DIR/tools/etcd/go.mod" \
    || die "tools/etcd/go.mod does not pin etcd v$ETCD_VERSION"
  log "building etcd v$ETCD_VERSION into $dir (first run only)"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  (cd "$ROOT_DIR/tools/etcd" \
    && timed env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir.tmp/etcd" go.etcd.io/etcd/server/v3 >&2)
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir/etcd"
