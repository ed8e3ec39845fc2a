#!/usr/bin/env bash
# Prints the path of helm v$HELM_VERSION (the chart's lint, template and package: deploy/helm/). Order:
# $EDGE_UPGRADE_HELM, the cache, else `go install` of helm.sh/helm/v4's cmd/helm into the cache (a few minutes, once).
. "$(dirname "$0")/lib.sh"
if [ -n "${EDGE_UPGRADE_HELM:-}" ]; then
  [ -x "$EDGE_UPGRADE_HELM" ] || die "EDGE_UPGRADE_HELM=$EDGE_UPGRADE_HELM is not an executable"
  echo "$EDGE_UPGRADE_HELM"; exit 0
fi
dir="$EDGE_UPGRADE_CACHE/helm-$HELM_VERSION"
if [ ! -x "$dir/helm" ]; then
  command -v go >/dev/null || die "Go is needed to build Helm (or set EDGE_UPGRADE_HELM)"
  log "building Helm v$HELM_VERSION into $dir (first run only)"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  # The version string helm prints comes from ldflags; without them it says v4-dev.
  timed env GOBIN="$dir.tmp" CGO_ENABLED=0 GOFLAGS=-trimpath go install \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=v$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@v$HELM_VERSION" >&2
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir/helm"
