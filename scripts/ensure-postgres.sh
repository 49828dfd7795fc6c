#!/usr/bin/env bash
# Starts a PostgreSQL cluster on loopback only and creates the test role and database (the
# package itself comes from scripts/ensure-packages.sh). Idempotent; quiet when everything is
# in place.
# The tests read the URL from REFUND_AUDIT_TEST_PG_URL (default below).
set -euo pipefail
PGPORT="${REFUND_AUDIT_TEST_PG_PORT:-5432}"
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || bash "$(dirname "$0")/ensure-packages.sh"
VER=$(ls /usr/lib/postgresql | sort -V | tail -1)
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^$VER main$"; then
  pg_createcluster "$VER" main -p "$PGPORT" -- --auth-local=peer --auth-host=scram-sha-256 >/dev/null
fi
CONF="/etc/postgresql/$VER/main/postgresql.conf"
grep -q "^listen_addresses = '127.0.0.1'" "$CONF" || echo "listen_addresses = '127.0.0.1'" >> "$CONF"
if ! pg_lsclusters -h | awk -v v="$VER" '$1==v && $2=="main" {print $4}' | grep -q online; then
  pg_ctlcluster "$VER" main start
fi
for i in $(seq 1 30); do
  pg_isready -h 127.0.0.1 -p "$PGPORT" -q && break
  sleep 1
done
pg_isready -h 127.0.0.1 -p "$PGPORT" -q || { echo "ensure-postgres: server did not start" >&2; exit 1; }
su postgres -c "psql -p $PGPORT -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='refund_audit'\"" | grep -q 1 \
  || su postgres -c "psql -p $PGPORT -qc \"CREATE ROLE refund_audit LOGIN PASSWORD 'refund_audit' CREATEDB\""
su postgres -c "psql -p $PGPORT -qtAc \"SELECT 1 FROM pg_database WHERE datname='refund_audit_test'\"" | grep -q 1 \
  || su postgres -c "psql -p $PGPORT -qc \"CREATE DATABASE refund_audit_test OWNER refund_audit\""
