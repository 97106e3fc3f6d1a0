#!/usr/bin/env bash
# Sourced by .ci/run: a throwaway PostgreSQL server for the PostgreSQL suites.
# Installs the server from the machine's Debian packages if missing, initdb's a temporary data
# directory under /tmp (outside any folder private to root), runs it as an unprivileged user
# (the server refuses root), on 127.0.0.1 and a free port, with an owner role (migrations) and
# a restricted application role (what the tests connect as), and stops it by a trap on exit.
# Exports the URLs for the tests and SAAS_LICENSE_REQUIRE_POSTGRES=1: in CI these tests never skip.
if ! ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1 && ! command -v initdb > /dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql > /dev/null
fi
pg_env=$(python3 tests/postgres/server.py start)   # an assignment: a failed start stops CI
eval "$pg_env"
# shellcheck disable=SC2064  # expand the directory now: the trap must stop this very server
trap "python3 tests/postgres/server.py stop '$SAAS_LICENSE_TEST_POSTGRES_DIR'" EXIT
export SAAS_LICENSE_REQUIRE_POSTGRES=1
echo "ci: PostgreSQL on 127.0.0.1 in $SAAS_LICENSE_TEST_POSTGRES_DIR (stopped on exit)"
