#!/usr/bin/env bash
# The baseline a hospital would otherwise pick: PostgreSQL from Debian with a
# records table whose insert trigger hash-chains each user's records
# (SHA-256 of the previous hash and the payload, pgcrypto), synchronous
# commit on, driven by pgbench. Starts a private instance in a temporary
# directory, prints "records_per_s: N", and stops and removes the instance.
#   tools/pg_baseline.sh [--clients 8] [--seconds 20] [--users 10000] [--bytes 1024]
set -euo pipefail
clients=8 seconds=20 users=10000 bytes=1024
while [ $# -gt 0 ]; do
  case "$1" in
    --clients) clients=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    *) echo "pg_baseline: unknown option $1" >&2; exit 2 ;;
  esac
done

if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  echo "pg_baseline: installing PostgreSQL from Debian" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >/dev/null
fi
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
# PostgreSQL refuses to run as root: run it as the package's own user.
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); fi

dir=$(mktemp -d /tmp/mhr-pg.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" = 0 ] && chown postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() {
  "${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_pg[@]}" "$bin/initdb" -D "$dir/data" -A trust -U bench >/dev/null
# Durable like the nodes: fsync and synchronous commit on (the defaults).
"${as_pg[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses='' -c fsync=on -c synchronous_commit=on -c max_connections=$((clients + 10))" \
  start >/dev/null
psql=("${as_pg[@]}" "$bin/psql" -h "$dir" -p "$port" -U bench -d postgres -q -v ON_ERROR_STOP=1)
"${psql[@]}" <<SQL
CREATE EXTENSION pgcrypto;
CREATE TABLE chain_tips (user_id int PRIMARY KEY, hash bytea NOT NULL);
INSERT INTO chain_tips SELECT u, '\x00'::bytea FROM generate_series(1, $users) u;
CREATE TABLE records (
  id bigserial PRIMARY KEY,
  user_id int NOT NULL,
  payload bytea NOT NULL,
  prev_hash bytea,
  hash bytea);
-- Each user's records form a chain: the tip row is locked, so concurrent
-- inserts for one user are ordered.
CREATE FUNCTION chain_record() RETURNS trigger AS \$\$
DECLARE prev bytea;
BEGIN
  SELECT hash INTO prev FROM chain_tips WHERE user_id = NEW.user_id FOR UPDATE;
  NEW.prev_hash := prev;
  NEW.hash := digest(prev || NEW.payload, 'sha256');
  UPDATE chain_tips SET hash = NEW.hash WHERE user_id = NEW.user_id;
  RETURN NEW;
END \$\$ LANGUAGE plpgsql;
CREATE TRIGGER chain BEFORE INSERT ON records FOR EACH ROW EXECUTE FUNCTION chain_record();
SQL
cat >"$dir/insert.sql" <<SQL
\set uid random(1, $users)
INSERT INTO records (user_id, payload) VALUES (:uid, convert_to(repeat('x', $bytes), 'UTF8'));
SQL
chmod 644 "$dir/insert.sql"
out=$("${as_pg[@]}" "$bin/pgbench" -h "$dir" -p "$port" -U bench -n -c "$clients" \
  -j "$(nproc)" -T "$seconds" -f "$dir/insert.sql" postgres 2>&1)
tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p' | head -1)
[ -n "$tps" ] || { echo "$out" >&2; echo "pg_baseline: no figure from pgbench" >&2; exit 1; }
rows=$("${psql[@]}" -t -A -c "SELECT count(*) FROM records")
echo "pgbench: $clients clients, ${seconds}s, $bytes-byte payloads, $rows rows chained"
echo "records_per_s: $tps"
