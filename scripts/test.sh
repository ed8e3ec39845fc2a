#!/usr/bin/env bash
# The test command: provisions everything (first run builds the tools, see CONTRIBUTING.md), then runs the
# type check, the linter, the format check (Prettier), the shape check and every test: unit, workflow
# (real Temporal dev server), integration (real Temporal + real kube-apiserver with simulated nodes)
# and the browser test, five files side by side (jest.config.js). Ends with the slowest files' seconds.
#   scripts/test.sh --quick   the inner loop: the same checks, and only the unit and workflow tests
#                             (no control plane, no browser; Kubernetes and etcd are not built)
# Other arguments go to jest, e.g. scripts/test.sh test/integration/cli.test.ts
quick=0
if [ "${1:-}" = "--quick" ]; then
  quick=1
  shift
  export EDGE_UPGRADE_NO_CLUSTER=1
fi
. "$(dirname "$0")/env.sh"
# Test-only tools from Debian's packages: shellcheck (agent script), chromium (Web UI test) and postgresql.
bash "$SCRIPTS_DIR/ensure-shellcheck.sh" >/dev/null
if [ "$quick" = 0 ]; then
  EDGE_UPGRADE_CHROMIUM=$(bash "$SCRIPTS_DIR/ensure-chromium.sh")
  # The production lane: Temporal Server (built from the Go module proxy, cached) on Debian's PostgreSQL.
  EDGE_UPGRADE_TEMPORAL_SERVER_DIR=$(bash "$SCRIPTS_DIR/ensure-temporal-server.sh")
  EDGE_UPGRADE_PG_BIN=$(bash "$SCRIPTS_DIR/ensure-postgresql.sh")
  # Helm (built from the Go module proxy, cached) for the charts' tests.
  EDGE_UPGRADE_HELM=$(bash "$SCRIPTS_DIR/ensure-helm.sh")
  export EDGE_UPGRADE_CHROMIUM EDGE_UPGRADE_TEMPORAL_SERVER_DIR EDGE_UPGRADE_PG_BIN EDGE_UPGRADE_HELM
fi
# The checks run at the lowest CPU priority (nice 19): beside the tests they take the CPU the tests leave idle while
# they wait on pods, leases and outages, instead of slowing them down.
checks() {
  log "type check"
  nice -n 19 npm run --silent typecheck
  log "lint"
  nice -n 19 npm run --silent lint
  log "format check"
  nice -n 19 npm run --silent format:check
  log "shape check (lines ≤ 140 characters, functions ≤ 60 lines, src files ≤ 400 lines)"
  nice -n 19 npm run --silent shape:check
}
# The tests start at once and the checks run beside them (about 90 CPU-seconds); their output follows the
# tests', and either failing fails the run.
tests=()
if [ "$quick" = 1 ]; then tests=(test/unit/ test/workflow/); fi
checks_log=$(mktemp)
checks >"$checks_log" 2>&1 &
checks_pid=$!
log "tests (the checks run beside them)"
tests_status=0
npm test -- "${tests[@]}" "$@" || tests_status=$?
checks_status=0
wait "$checks_pid" || checks_status=$?
cat "$checks_log" >&2
rm -f "$checks_log"
if [ "$checks_status" != 0 ]; then log "the checks failed (above)"; fi
if [ "$tests_status" != 0 ]; then log "the tests failed"; fi
[ "$checks_status" = 0 ] && [ "$tests_status" = 0 ]
