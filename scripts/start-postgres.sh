#!/usr/bin/env bash
# Makes sure PostgreSQL accepts connections on 127.0.0.1:5432 (the ledger's tests run against it): starts
# the local cluster when it is not running, then waits for it. The tests make (and drop) their own database.
set -euo pipefail
HOST=${DUBLINE_TEST_PG_HOST:-127.0.0.1}
PORT=${DUBLINE_TEST_PG_PORT:-5432}

ready() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$HOST" -p "$PORT"
  else
    (exec 3<>"/dev/tcp/$HOST/$PORT") 2>/dev/null
  fi
}

if ready; then
  echo "postgresql: accepting connections on $HOST:$PORT"
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  for version in $(ls /etc/postgresql); do
    echo "postgresql: starting cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
else
  echo "postgresql: not running on $HOST:$PORT and no local cluster to start (install Debian's postgresql)" >&2
  exit 1
fi
for _ in $(seq 1 60); do
  if ready; then
    echo "postgresql: accepting connections on $HOST:$PORT"
    exit 0
  fi
  sleep 1
done
echo "postgresql: still not accepting connections on $HOST:$PORT after 60 s" >&2
exit 1
