"""Fixtures that run a test on both stores: SQLite (the default everywhere) and PostgreSQL.

A test module (or a folder's conftest) opts in with ``store_kind = both_stores``; its
``new_store`` / ``workspace`` then come from each store in turn. The PostgreSQL server is the
one CI started (``SAAS_LICENSE_TEST_POSTGRES_URL``/``..._OWNER_URL``, see ``.ci/postgres.sh``),
else a throwaway one this session starts itself (:mod:`tests.postgres.server`); with neither,
the PostgreSQL cases skip with one line, unless ``SAAS_LICENSE_REQUIRE_POSTGRES=1`` (CI) makes
that a failure. Each test gets its own schema (the owner creates it and migrates; the test
connects as the restricted application role).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from saas_license._store import Store

from . import server as pg

REQUIRE = "SAAS_LICENSE_REQUIRE_POSTGRES"

#: ``params`` of a ``store_kind`` fixture that runs a module's tests on both stores.
STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _skip_or_fail(reason: str) -> None:
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{reason} ({REQUIRE}=1: the PostgreSQL tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pg.Server]:
    """A PostgreSQL server: CI's, or one started for this session and stopped after it."""
    app, owner = (
        os.environ.get("SAAS_LICENSE_TEST_POSTGRES_URL"),
        os.environ.get("SAAS_LICENSE_TEST_POSTGRES_OWNER_URL"),
    )
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError:
        _skip_or_fail("PostgreSQL tests need psycopg: pip install -e '.[test]'")
    if app and owner:
        yield pg.Server(directory="", port=0, owner_url=owner, app_url=app)
        return
    if pg.binaries() is None:
        _skip_or_fail(
            "no PostgreSQL server here (apt-get install postgresql, or set "
            "SAAS_LICENSE_TEST_POSTGRES_URL and ..._OWNER_URL)"
        )
    try:
        server = pg.start()
    except (RuntimeError, OSError) as exc:
        _skip_or_fail(f"could not start a PostgreSQL server: {str(exc).splitlines()[0]}")
        raise
    try:
        yield server
    finally:
        pg.stop(server.directory)


def with_schema(url: str, schema: str) -> str:
    """``url`` connecting with ``schema`` first on the search path."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


class PgSchema:
    """One test's schema on the server: its app and owner URLs; dropped afterwards."""

    def __init__(self, server: pg.Server) -> None:
        import psycopg

        self.name = f"t_{secrets.token_hex(6)}"
        self.server = server
        with psycopg.connect(server.owner_url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {self.name}")
        self.app_url = with_schema(server.app_url, self.name)
        self.owner_url = with_schema(server.owner_url, self.name)

    def open(self) -> Store:
        from saas_license._store._postgres import PostgresStore

        return PostgresStore(self.app_url, owner_url=self.owner_url)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.server.owner_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {self.name} CASCADE")


@pytest.fixture
def pg_schema(postgres_server: pg.Server) -> Iterator[PgSchema]:
    """A fresh schema for this test (PostgreSQL only)."""
    schema = PgSchema(postgres_server)
    yield schema
    schema.drop()


@pytest.fixture
def store_kind() -> str:
    """Which store a test runs on: SQLite unless its module asks for ``both_stores``."""
    return "sqlite"


@pytest.fixture(params=STORES)
def both_stores(request: pytest.FixtureRequest) -> str:
    """Parametrize over both stores (assign to ``store_kind`` in a module or conftest)."""
    return str(request.param)


@pytest.fixture
def new_store(
    store_kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[[], Store]]:
    """Open the test's store (again: the same data each time) of the kind ``store_kind`` says."""
    opened: list[Store] = []
    if store_kind == "postgres":
        schema: PgSchema = request.getfixturevalue("pg_schema")

        def make() -> Store:
            opened.append(schema.open())
            return opened[-1]
    else:

        def make() -> Store:
            from saas_license._store import SqliteStore

            opened.append(SqliteStore(tmp_path / "store.db"))
            return opened[-1]

    yield make
    for store in opened:
        store.close()
