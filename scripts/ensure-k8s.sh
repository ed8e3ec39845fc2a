#!/usr/bin/env bash
# Prints the directory holding kube-apiserver, kube-controller-manager, kube-scheduler and kubectl
# built from k8s.io/kubernetes (tools/k8s pins the version). $EDGE_UPGRADE_K8S_BIN overrides.
# The first build takes long (see CONTRIBUTING.md); later runs reuse $EDGE_UPGRADE_CACHE/k8s-v<version>.
. "$(dirname "$0")/lib.sh"
if [ -n "${EDGE_UPGRADE_K8S_BIN:-}" ]; then
  [ -x "$EDGE_UPGRADE_K8S_BIN/kube-apiserver" ] || die "EDGE_UPGRADE_K8S_BIN=$EDGE_UPGRADE_K8S_BIN has no kube-apiserver"
  echo "$EDGE_UPGRADE_K8S_BIN"; exit 0
fi
dir="$EDGE_UPGRADE_CACHE/k8s-v$KUBERNETES_VERSION"
bins=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
complete=1
for b in "${bins[@]}"; do [ -x "$dir/$b" ] || complete=0; done
if [ "$complete" = 0 ]; then
  command -v go >/dev/null || die "Go is needed to build Kubernetes (or set EDGE_UPGRADE_K8S_BIN)"
  grep -q "k8s.io/kubernetes v$KUBERNETES_VERSION" "$ROOT_DIR/tools/k8s/go.mod" \
    || die "tools/k8s/go.mod does not pin k8s.io/kubernetes v$KUBERNETES_VERSION"
  log "building Kubernetes v$KUBERNETES_VERSION (${bins[*]}) into $dir (first run only; 10-30 min)"
  minor=${KUBERNETES_VERSION#*.}; minor=${minor%%.*}
  ld=""
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=v$KUBERNETES_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  pkgs=()
  for b in "${bins[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  (cd "$ROOT_DIR/tools/k8s" && timed env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w$ld" -o "$dir.tmp/" "${pkgs[@]}" >&2)
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$dir"
