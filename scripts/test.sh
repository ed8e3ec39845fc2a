#!/usr/bin/env bash
# The test command: provisions everything (first run builds the tools, see README), then runs the
# type check, the linter, the format check (Prettier), the shape check and every test: unit, workflow
# (real Temporal dev server) and integration (real Temporal + real kube-apiserver with simulated nodes). Extra arguments go to jest.
. "$(dirname "$0")/env.sh"
# Test-only tools from Debian's packages: shellcheck (agent script) and chromium (Web UI test).
bash "$SCRIPTS_DIR/ensure-shellcheck.sh" >/dev/null
EDGE_UPGRADE_CHROMIUM=$(bash "$SCRIPTS_DIR/ensure-chromium.sh")
export EDGE_UPGRADE_CHROMIUM
log "type check"
npm run --silent typecheck
log "lint"
npm run --silent lint
log "format check"
npm run --silent format:check
log "shape check (functions ≤ 60 lines, lines ≤ 140 characters)"
npm run --silent shape:check
log "tests"
npm test -- "$@"
