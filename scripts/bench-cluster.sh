#!/usr/bin/env bash
# The cluster engines' benchmarks, in release: `livecart bench claims` on a throwaway
# PostgreSQL cluster (initdb + pg_ctl on a temp dir and a free port, never the system
# service; fsync on, as in production) against SQLite, and `livecart bench bus` (which
# starts its own nats-server) — each compares with its one-node baseline in the same run.
# Extra arguments go to `bench claims` (e.g. --nodes 3 --claimers 2000).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_apt "${BASE_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
cargo build --release -p livecart

PG=/usr/lib/postgresql/15/bin
dir=$(mktemp -d /tmp/livecart-bench-pg-XXXXXX)
as_root chown postgres:postgres "$dir"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_root runuser -u postgres -- "$PG/initdb" -D "$dir/data" -A trust -U livecart >/dev/null
as_root runuser -u postgres -- "$PG/pg_ctl" -D "$dir/data" -l "$dir/log" \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200" -w start >/dev/null
stop() {
    as_root runuser -u postgres -- "$PG/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    as_root rm -rf "$dir"
}
trap stop EXIT

echo "==> bench claims (1 node on SQLite, then nodes sharing PostgreSQL)"
./target/release/livecart bench claims --postgres "postgres://livecart@127.0.0.1:$port/postgres" "$@"
echo "==> bench bus (in-process, then three nodes on NATS JetStream)"
./target/release/livecart bench bus
