#!/usr/bin/env bash
# Installs shellcheck (needed by test/unit/agent.test.ts) when it is missing. Debian/Ubuntu CI
# machines: apt-get; run as root or with sudo available.
set -euo pipefail
if command -v shellcheck > /dev/null 2>&1; then
  exit 0
fi
sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck
shellcheck --version | head -n 2
