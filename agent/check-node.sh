# shellcheck shell=bash disable=SC2154 # version, minor, pm and NODE_* are set by upgrade-node.sh
# edge-upgrade node agent, check mode (upgrade-node.sh --check): reads the host and changes nothing
# on it. Sourced by upgrade-node.sh after it validated the environment and found the package manager
# (it provides host, log, fail, version, minor, pm). It writes one JSON object, the probe result, to
# the container's termination message (AGENT_TERMINATION_LOG, default /dev/termination-log; the
# kubelet keeps at most 4096 bytes, so every list and message is capped) and as the last line of its
# log. The workflow judges the result (src/planning/probe-items.ts); this script only measures:
#   swap      swapon --show (kubelet refuses to start with swap unless its config has failSwapOn: false)
#   disk      df -P -k /var/lib /usr: free MiB
#   repo      the pkgs.k8s.io-style repository for the target minor: HTTP HEAD of its Release
#             (apt) or repodata/repomd.xml (dnf, yum), then the kubeadm versions it holds for that
#             minor; without such a repository, the versions in the host's package cache
#   hopRepos  the same for each version in HOP_VERSIONS (comma-separated, e.g. v1.32.9,v1.33.5: the
#             hops a master's control plane passes through before the target), each with its `version`;
#             [] without HOP_VERSIONS
#   certs     kubeadm certs check-expiration (control-plane nodes only): each certificate's residual time
#   runtime   crictl version: the container runtime's name and version
#   time      the node's clock (UTC), compared with the API server's by the workflow
# AGENT_KUBELET_CONFIG overrides the kubelet configuration file (default /var/lib/kubelet/config.yaml).

# A JSON string of $1 (quotes, backslashes and control characters made safe), at most 200 characters.
json_str() {
  local s=${1:0:200}
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//[$'\n\t\r']/ }
  printf '"%s"' "$s"
}

# Joins JSON values ($2…) with commas into a JSON array.
json_array() {
  local IFS=,
  printf '[%s]' "$*"
}

# The last non-empty line of $1 (an error output), for messages.
last_line() {
  local line last=''
  while IFS= read -r line; do [[ -n "$line" ]] && last=$line; done <<< "$1"
  printf '%s' "$last"
}

check_swap() {
  local out devices=() line allows=false
  if ! out=$(host swapon --show=NAME --noheadings 2> /dev/null); then
    # No swapon (util-linux) on the host: /proc/swaps has a header line, then one line per device.
    out=$(host sed 1d /proc/swaps 2> /dev/null || true)
  fi
  while read -r line _; do [[ -n "$line" ]] && devices+=("$(json_str "$line")"); done <<< "$out"
  if host grep -q -s -E '^[[:space:]]*failSwapOn:[[:space:]]*false' "${AGENT_KUBELET_CONFIG:-/var/lib/kubelet/config.yaml}"; then
    allows=true
  fi
  printf '{"enabled":%s,"devices":%s,"kubeletAllows":%s}' \
    "$([[ ${#devices[@]} -gt 0 ]] && echo true || echo false)" "$(json_array "${devices[@]:0:5}")" "$allows"
}

check_disk() {
  local path out fields items=()
  for path in /var/lib /usr; do
    if out=$(host df -P -k "$path" 2>&1); then
      read -r -a fields <<< "${out##*$'\n'}"
      if [[ "${fields[3]:-}" =~ ^[0-9]+$ ]]; then
        items+=("{\"path\":\"$path\",\"freeMb\":$((fields[3] / 1024))}")
        continue
      fi
    fi
    items+=("{\"path\":\"$path\",\"error\":$(json_str "df: $(last_line "$out")")}")
  done
  json_array "${items[@]}"
}

# Versions of kubeadm for the target minor in a Debian Packages index or an RPM primary.xml (stdin),
# as JSON strings, the newest 20.
kubeadm_versions() {
  local line pkg='' found=()
  while IFS= read -r line; do
    if [[ "$line" =~ ^Package:[[:space:]]*([^[:space:]]+) || "$line" =~ \<name\>([^<]+)\</name\> ]]; then
      pkg=${BASH_REMATCH[1]}
    elif [[ "$pkg" == kubeadm ]]; then
      if [[ "$line" =~ ^Version:[[:space:]]*([^[:space:]]+) ]]; then
        found+=("${BASH_REMATCH[1]}")
      elif [[ "$line" =~ \<version[^\>]*ver=\"([^\"]+)\"[^\>]*rel=\"([^\"]+)\" ]]; then
        found+=("${BASH_REMATCH[1]}-${BASH_REMATCH[2]}")
      fi
    fi
  done
  versions_json "${found[@]}"
}

# The given versions of the target minor (e.g. 1.34.4-1.1), as a JSON array of the last 20.
versions_json() {
  local v out=()
  for v in "$@"; do [[ "$v" == "$minor".* ]] && out+=("$(json_str "$v")"); done
  local from=$((${#out[@]} > 20 ? ${#out[@]} - 20 : 0))
  json_array "${out[@]:from}"
}

# The kubeadm versions the host's package cache knows (no repository access, nothing refreshed).
cached_versions() {
  local out v found=()
  case "$pm" in
    apt) out=$(host apt-cache madison kubeadm 2> /dev/null || true) ;;
    *) out=$(host "$pm" -C -q list --showduplicates --disableexcludes=kubernetes kubeadm 2> /dev/null || true) ;;
  esac
  # apt-cache madison: "kubeadm | 1.34.4-1.1 | <source>"; dnf list: "kubeadm.x86_64  1.34.4-150500.1.1  kubernetes".
  while read -r _ v _; do [[ -n "$v" ]] && found+=("$v"); done <<< "${out//|/ }"
  versions_json "${found[@]}"
}

check_repo() {
  local dir uri index primary out versions
  case "$pm" in
    apt) dir="${AGENT_APT_SOURCES_DIR:-/etc/apt/sources.list.d}" ;;
    *) dir="${AGENT_YUM_REPOS_DIR:-/etc/yum.repos.d}" ;;
  esac
  uri=$(host grep -r -h -o -s -E 'https?://[^ ]*core:/stable:/v[0-9]+\.[0-9]+/(deb|rpm)/' "$dir" || true)
  uri=${uri%%$'\n'*}
  if [[ -z "$uri" ]]; then
    if host grep -r -q -s -E 'apt\.kubernetes\.io|yum\.kubernetes\.io|packages\.cloud\.google\.com' "$dir"; then
      printf '{"kind":"legacy"}'
    else
      printf '{"kind":"other","versions":%s}' "$(cached_versions)"
    fi
    return 0
  fi
  uri=$(sed -E "s#(core:/stable:/)v[0-9]+\.[0-9]+/#\1v$minor/#" <<< "$uri")
  if [[ "$uri" == */deb/ ]]; then index="${uri}Release"; else index="${uri}repodata/repomd.xml"; fi
  if ! out=$(host curl -sSI --max-time 15 -o /dev/null -w '%{http_code}' "$index" 2>&1) || [[ "$out" != 2* ]]; then
    out=${out#000}
    [[ "$out" =~ ^[0-9]{3}$ ]] && out="HTTP $out"
    printf '{"kind":"pkgs.k8s.io","url":%s,"reachable":false,"error":%s}' "$(json_str "$index")" "$(json_str "$(last_line "$out")")"
    return 0
  fi
  if [[ "$uri" == */deb/ ]]; then
    versions=$(host curl -fsS --max-time 60 "${uri}Packages" 2> /dev/null | kubeadm_versions) || versions=null
  else
    out=$(host curl -fsS --max-time 15 "$index" 2> /dev/null || true)
    primary=''
    [[ "$out" =~ href=\"(repodata/[^\"]*primary\.xml\.gz)\" ]] && primary=${BASH_REMATCH[1]}
    versions=null
    if [[ -n "$primary" ]]; then
      versions=$(host curl -fsS --max-time 60 "$uri$primary" 2> /dev/null | host gzip -dc 2> /dev/null | kubeadm_versions) || versions=null
    fi
  fi
  printf '{"kind":"pkgs.k8s.io","url":%s,"reachable":true,"versions":%s}' "$(json_str "$index")" "$versions"
}

# check_repo for each version in HOP_VERSIONS (at most 5; invalid ones are skipped with a log line), as a
# JSON array of its objects with a "version" field first. `minor` is rebound for check_repo's helpers.
check_hop_repos() {
  local hop hops=() items=() repo minor
  IFS=, read -r -a hops <<< "${HOP_VERSIONS:-}"
  for hop in "${hops[@]:0:5}"; do
    if [[ ! "$hop" =~ ^v?([0-9]+)\.([0-9]+)\.[0-9]+$ ]]; then
      [[ -n "$hop" ]] && log "HOP_VERSIONS: '$hop' is not a Kubernetes version like v1.33.5; skipped" >&2
      continue
    fi
    minor="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"
    repo=$(check_repo)
    items+=("{\"version\":$(json_str "v${hop#v}"),${repo#\{}")
  done
  json_array "${items[@]}"
}

check_certs() {
  local out line certs=()
  [[ "$NODE_ROLE" == worker ]] && {
    printf 'null'
    return 0
  }
  if ! out=$(host kubeadm certs check-expiration 2>&1); then
    printf '{"checked":false,"error":%s}' "$(json_str "$(last_line "$out")")"
    return 0
  fi
  # Rows: NAME  Mon DD, YYYY HH:MM UTC  RESIDUAL  [AUTHORITY]  EXTERNALLY-MANAGED
  local row='^([A-Za-z0-9._-]+)[[:space:]]+[A-Z][a-z]{2} [0-9]{1,2}, [0-9]{4} [0-9]{2}:[0-9]{2} UTC[[:space:]]+(<invalid>|[0-9]+[ydhms])'
  while IFS= read -r line; do
    [[ "$line" =~ $row ]] && certs+=("{\"name\":$(json_str "${BASH_REMATCH[1]}"),\"residual\":\"${BASH_REMATCH[2]}\"}")
  done <<< "$out"
  printf '{"checked":true,"certs":%s}' "$(json_array "${certs[@]:0:20}")"
}

check_runtime() {
  local out name='' ver='' line
  if ! host sh -c 'command -v crictl' > /dev/null 2>&1; then
    printf '{"reachable":null,"error":"crictl not found on the node"}'
    return 0
  fi
  if ! out=$(host crictl version 2>&1); then
    printf '{"reachable":false,"error":%s}' "$(json_str "$(last_line "$out")")"
    return 0
  fi
  while IFS= read -r line; do
    [[ "$line" =~ ^RuntimeName:[[:space:]]*(.*)$ ]] && name=${BASH_REMATCH[1]}
    [[ "$line" =~ ^RuntimeVersion:[[:space:]]*(.*)$ ]] && ver=${BASH_REMATCH[1]}
  done <<< "$out"
  printf '{"reachable":true,"name":%s,"version":%s}' "$(json_str "$name")" "$(json_str "$ver")"
}

check_node() {
  local now result
  TZ=UTC printf -v now '%(%Y-%m-%dT%H:%M:%SZ)T' -1
  result=$(printf '{"v":1,"node":%s,"role":"%s","target":"%s","time":"%s","pm":"%s","swap":%s,"disk":%s,"repo":%s,"hopRepos":%s,"certs":%s,"runtime":%s}' \
    "$(json_str "$NODE_NAME")" "$NODE_ROLE" "v$version" "$now" "$pm" \
    "$(check_swap)" "$(check_disk)" "$(check_repo)" "$(check_hop_repos)" "$(check_certs)" "$(check_runtime)")
  printf '%s' "$result" > "${AGENT_TERMINATION_LOG:-/dev/termination-log}" 2> /dev/null || log "cannot write the termination message"
  log "check of $NODE_NAME done"
  printf '%s\n' "$result"
}

check_node
