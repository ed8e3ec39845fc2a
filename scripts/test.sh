#!/usr/bin/env bash
# The test command: provisions everything (first run builds the tools, see README), then runs the
# type check, the linter and every test: unit, workflow (real Temporal dev server) and integration
# (real Temporal + real kube-apiserver with simulated nodes). Extra arguments go to jest.
. "$(dirname "$0")/env.sh"
log "type check"
npm run --silent typecheck
log "lint"
npm run --silent lint
log "tests"
npm test -- "$@"
