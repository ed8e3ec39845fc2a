# shellcheck shell=bash disable=SC2154  # pm, version and minor are set by upgrade-node.sh, which sources this file
# edge-upgrade node agent, prepare mode (upgrade-node.sh --prepare, AGENT_MODE=prepare): gets a
# cloud node ready for its upgrade to TARGET_VERSION in the prepare phase, before the masters are
# upgraded (the product's "node-preprocess … [Nodes in the cloud]"). The node keeps running as it
# is: nothing is installed, upgraded or restarted, and the workflow has not cordoned it.
#   1. free space: at least AGENT_MIN_FREE_MB (default 2048) MiB free in AGENT_SPACE_DIR (default
#      /var, where the package cache and the container images live); else it fails, saying so;
#   2. the Kubernetes package repository switched to the target minor (as the upgrade does);
#   3. kubeadm, kubelet and kubectl of the target downloaded into the package cache, not installed
#      (this also proves the repository serves the target);
#   4. the target's images pre-pulled with crictl: those `kubeadm config images list` names for the
#      target (on a worker only kube-proxy and pause, the ones a worker runs), from the registry the
#      node's current kube-proxy image came from (a cluster's own imageRepository), else kubeadm's default.
#
# Sourced by upgrade-node.sh after its checks; uses its log, fail, run, host, switch_repository,
# $pm, $version, $minor and $NODE_ROLE.

# Fails unless AGENT_SPACE_DIR has AGENT_MIN_FREE_MB MiB free (df -Pk: the 4th column is KiB available).
check_free_space() {
  local dir="${AGENT_SPACE_DIR:-/var}" need="${AGENT_MIN_FREE_MB:-2048}" out avail
  out=$(host df -Pk "$dir") || fail "cannot read the free space of $dir on $NODE_NAME"
  read -r _ _ _ avail _ <<< "$(sed -n '2p' <<< "$out")"
  [[ "$avail" =~ ^[0-9]+$ ]] || fail "cannot read the free space of $dir on $NODE_NAME from df: $out"
  if ((avail / 1024 < need)); then
    fail "only $((avail / 1024)) MiB free in $dir on $NODE_NAME; the target's packages and images need $need MiB: free space there, then resume"
  fi
  log "$((avail / 1024)) MiB free in $dir (at least $need MiB needed)"
}

# Downloads the given packages at the target version into the package manager's cache; installs nothing.
download_pinned() {
  local pkgs=() p
  case "$pm" in
    apt)
      for p in "$@"; do pkgs+=("$p=$version-*"); done
      run apt-get update
      # Download only: the holds stay and nothing is unpacked; the allow flag only lets apt plan past the holds.
      run env DEBIAN_FRONTEND=noninteractive apt-get install -y --download-only --allow-change-held-packages "${pkgs[@]}"
      ;;
    dnf | yum)
      for p in "$@"; do pkgs+=("$p-$version"); done
      run "$pm" install -y --downloadonly --disableexcludes=kubernetes "${pkgs[@]}"
      ;;
  esac
}

# The registry the node's kube-proxy image came from (e.g. registry.k8s.io), or nothing.
current_image_repository() {
  local out line
  out=$(host crictl images 2> /dev/null || true)
  line=$(grep -m 1 -E '^[^[:space:]]+/kube-proxy[[:space:]]' <<< "$out" || true)
  [[ -n "$line" ]] && printf '%s\n' "${line%%/kube-proxy*}"
  return 0
}

# Pulls the target's images (see 4. above) with crictl.
pull_images() {
  local repo args=() out images=() img pulled=0
  repo=$(current_image_repository)
  [[ -n "$repo" ]] && args=(--image-repository "$repo")
  out=$(host kubeadm config images list --kubernetes-version "v$version" "${args[@]}") ||
    fail "'kubeadm config images list --kubernetes-version v$version' failed on $NODE_NAME"
  mapfile -t images <<< "$out"
  for img in "${images[@]}"; do
    [[ -n "$img" ]] || continue
    if [[ "$NODE_ROLE" == worker && ! "$img" =~ /(kube-proxy|pause): ]]; then continue; fi
    run crictl pull "$img"
    pulled=$((pulled + 1))
  done
  log "pulled $pulled image(s) for v$version${repo:+ from $repo}"
}

prepare_node() {
  log "prepare mode: v$version packages and images, before the upgrade; nothing is installed or restarted"
  check_free_space
  switch_repository
  download_pinned kubeadm kubelet kubectl
  pull_images
  log "prepared $NODE_NAME for v$version (repository v$minor, packages downloaded, images pulled); nothing installed or restarted"
}
