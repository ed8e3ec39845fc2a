#!/usr/bin/env bash
# The test command: provisions everything (first run builds the tools, see README), then runs the
# type check, the linter, the format check (Prettier), the shape check and every test: unit, workflow
# (real Temporal dev server), integration (real Temporal + real kube-apiserver with simulated nodes)
# and the browser test, three files side by side (jest.config.js). Ends with the slowest files' seconds.
#   scripts/test.sh --quick   the inner loop: the same checks, then only the unit and workflow tests
#                             (no control plane, no browser; Kubernetes and etcd are not built)
# Other arguments go to jest, e.g. scripts/test.sh test/integration/cli.test.ts
quick=0
if [ "${1:-}" = "--quick" ]; then
  quick=1
  shift
  export EDGE_UPGRADE_NO_CLUSTER=1
fi
. "$(dirname "$0")/env.sh"
# Test-only tools from Debian's packages: shellcheck (agent script) and chromium (Web UI test).
bash "$SCRIPTS_DIR/ensure-shellcheck.sh" >/dev/null
if [ "$quick" = 0 ]; then
  EDGE_UPGRADE_CHROMIUM=$(bash "$SCRIPTS_DIR/ensure-chromium.sh")
  export EDGE_UPGRADE_CHROMIUM
fi
log "type check"
npm run --silent typecheck
log "lint"
npm run --silent lint
log "format check"
npm run --silent format:check
log "shape check (functions ≤ 60 lines, lines ≤ 140 characters)"
npm run --silent shape:check
if [ "$quick" = 1 ]; then
  log "tests: unit and workflow"
  exec npm test -- test/unit/ test/workflow/ "$@"
fi
log "tests"
npm test -- "$@"
