#!/usr/bin/env bash
# A production-shaped Temporal on loopback: Temporal Server v$TEMPORAL_SERVER_VERSION on a private PostgreSQL,
# mTLS on its frontend (src/local/prod-temporal.ts; the tests start the same one themselves).
#   scripts/prod-stack.sh up DIR     starts it in the background; DIR/env holds the settings (. DIR/env, then
#                                    edge-upgrade worker / edge-upgrade start ... connect over mTLS)
#   scripts/prod-stack.sh down DIR   stops it (by the PID it recorded) and removes DIR with its database
. "$(dirname "$0")/env.sh"
usage="usage: scripts/prod-stack.sh up|down DIR"
cmd=${1:?$usage}
dir=${2:?$usage}
case "$cmd" in
  up)
    server_dir=$(bash "$SCRIPTS_DIR/ensure-temporal-server.sh")
    pg_bin=$(bash "$SCRIPTS_DIR/ensure-postgresql.sh")
    [ ! -e "$dir/pid" ] || die "$dir/pid exists: is a stack running there? (scripts/prod-stack.sh down $dir)"
    mkdir -p "$dir"
    rm -f "$dir/ready"
    nohup node "$ROOT_DIR/dist/local/prod-temporal-cli.js" --dir "$dir" --server-dir "$server_dir" \
      --temporal-cli "$TEMPORAL_CLI" --pg-bin "$pg_bin" > "$dir/stack.log" 2>&1 &
    echo $! > "$dir/pid"
    for _ in $(seq 1 240); do
      if [ -f "$dir/ready" ]; then log "Temporal Server up at $(cat "$dir/ready"); settings: . $dir/env"; echo "$dir"; exit 0; fi
      kill -0 "$(cat "$dir/pid")" 2>/dev/null || { rm -f "$dir/pid"; die "the stack failed to start: $(tail -5 "$dir/stack.log")"; }
      sleep 0.5
    done
    die "the stack did not become ready in 120 s; see $dir/stack.log"
    ;;
  down)
    stop_recorded "$dir" stack "scripts/prod-stack.sh up" 90
    rm -rf "$dir"
    log "Temporal Server and PostgreSQL stopped; $dir removed"
    ;;
  *) die "$usage" ;;
esac
