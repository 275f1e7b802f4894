#!/usr/bin/env bash
# Install and start Debian's PostgreSQL server and create the tests' role and database (idempotent).
# Prints the URL the tests read (RECOMMENDER_TEST_POSTGRES_URL) and nothing else on stdout: every tool's
# own notices go to stderr (pg_ctlcluster says "Removed stale pid file." after an unclean stop).
# Needs root or sudo, as apt-get does.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
ROLE=lookalike PASSWORD=lookalike DB=lookalike_test

if ! command -v pg_lsclusters >/dev/null 2>&1; then
    echo "Installing Debian packages: postgresql" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
fi
if [ -z "$(pg_lsclusters -h)" ]; then  # the package made no cluster (e.g. create_main_cluster = false)
    $SUDO pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -1)" main >&2
fi
read -r version cluster port status _ < <(pg_lsclusters -h | head -1)
if [ "$status" != online ]; then
    $SUDO pg_ctlcluster "$version" "$cluster" start >&2
fi
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
for _ in $(seq 30); do as_postgres psql -p "$port" -qAtc "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
if [ "$(as_postgres psql -p "$port" -qAtc "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
    as_postgres psql -p "$port" -qc "CREATE ROLE $ROLE LOGIN PASSWORD '$PASSWORD'" >&2
fi
if [ "$(as_postgres psql -p "$port" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$DB'")" != 1 ]; then
    as_postgres createdb -p "$port" -O "$ROLE" "$DB" >&2
fi
echo "postgresql://$ROLE:$PASSWORD@127.0.0.1:$port/$DB"
