#!/usr/bin/env bash
# Records workflow histories for the replay test into test/histories/ (see test/histories/record.ts).
# Extra argument: only scenarios whose name contains it.
. "$(dirname "$0")/env.sh"
exec node --import tsx test/histories/record.ts "$@"
