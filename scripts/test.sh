#!/usr/bin/env bash
# Runs Kanta's whole test suite: every crate, against SQLite and PostgreSQL, and a
# headless Chromium for the browser test.
#
# PostgreSQL: the one answering on 127.0.0.1:5432 is used (KANTA_TEST_POSTGRES_URL,
# default postgres://postgres@127.0.0.1:5432/postgres). When none answers, Debian's
# postgresql package is installed and started, with a password for TCP logins.
set -euo pipefail
cd "$(dirname "$0")/.."

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

if [ -z "${KANTA_TEST_POSTGRES_URL:-}" ]; then
  if ! command -v pg_isready >/dev/null 2>&1 || ! pg_up; then
    echo "PostgreSQL does not answer on 127.0.0.1:5432: starting one." >&2
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      if [ "$(id -u)" -ne 0 ]; then
        echo "Install PostgreSQL (apt-get install postgresql) or set KANTA_TEST_POSTGRES_URL." >&2
        exit 1
      fi
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    fi
    version=$(ls /etc/postgresql | sort -V | tail -1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start
    for _ in $(seq 1 60); do pg_up && break; sleep 1; done
    pg_up || { echo "PostgreSQL did not start." >&2; exit 1; }
  fi
  # Trust auth (as on the build machines) needs no password; a fresh Debian install
  # wants one over TCP, so give the postgres role a known one for the tests.
  if psql -h 127.0.0.1 -U postgres -d postgres -c 'select 1' >/dev/null 2>&1; then
    export KANTA_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres
  else
    su postgres -c "psql -q -c \"ALTER ROLE postgres PASSWORD 'kanta-test'\"" >/dev/null
    export KANTA_TEST_POSTGRES_URL=postgres://postgres:kanta-test@127.0.0.1:5432/postgres
  fi
fi

# The browser test drives Debian's Chromium through chromedriver.
if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "Install chromium and chromium-driver (Debian) for the browser test." >&2
    exit 1
  fi
  echo "Installing chromium and chromium-driver for the browser test." >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# The committed OpenAPI document is valid OpenAPI 3.1 (a test checks that it is what
# the code generates).
bash scripts/check_openapi.sh

cargo test --workspace --no-fail-fast "$@"
