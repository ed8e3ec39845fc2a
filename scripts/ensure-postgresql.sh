#!/usr/bin/env bash
# Prints the folder of PostgreSQL's programs (initdb, postgres, pg_isready) for the production lane,
# installing Debian's `postgresql` package when missing (CI runs as root). $EDGE_UPGRADE_PG_BIN overrides.
. "$(dirname "$0")/lib.sh"
if [ -n "${EDGE_UPGRADE_PG_BIN:-}" ]; then
  [ -x "$EDGE_UPGRADE_PG_BIN/postgres" ] || die "EDGE_UPGRADE_PG_BIN=$EDGE_UPGRADE_PG_BIN has no executable postgres"
  echo "$EDGE_UPGRADE_PG_BIN"; exit 0
fi
newest() { find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' 2>/dev/null | sort -V | tail -1; }
if [ -z "$(newest)" ]; then
  apt_install "no PostgreSQL under /usr/lib/postgresql for the production lane (or set EDGE_UPGRADE_PG_BIN)" postgresql
fi
pg=$(newest)
[ -n "$pg" ] || die "installing postgresql gave no /usr/lib/postgresql/*/bin/postgres"
dirname "$pg"
