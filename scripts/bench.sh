#!/usr/bin/env bash
# Runs a benchmark script from bench/ under the project's Node, after provisioning the tools.
# Usage: scripts/bench.sh simulator-heartbeats | workflow-10k
. "$(dirname "$0")/env.sh"
name=${1:?usage: scripts/bench.sh <name> (a file in bench/ without .ts)}
[ -f "bench/$name.ts" ] || die "no benchmark bench/$name.ts"
exec npx tsx "bench/$name.ts"
