#!/usr/bin/env bash
# Runs a benchmark script from bench/ under the project's Node, after provisioning the tools; the
# arguments after the name go to the benchmark.
# Usage: scripts/bench.sh <name> [options]
#   e.g. scripts/bench.sh simulator-heartbeats | workflow-10k | soak [--workers 200] |
#        upgrade-1000 [--workers 1000] [--upgrade-seconds 1]
. "$(dirname "$0")/env.sh"
name=${1:?usage: scripts/bench.sh <name> [options] (name: a file in bench/ without .ts)}
shift
[ -f "bench/$name.ts" ] || die "no benchmark bench/$name.ts"
exec npx tsx "bench/$name.ts" "$@"
