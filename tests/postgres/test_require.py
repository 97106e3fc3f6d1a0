"""Without a PostgreSQL server the PostgreSQL tests skip with one line, except in CI
(``SAAS_LICENSE_REQUIRE_POSTGRES=1``), where that is a failure: they never skip silently."""

from __future__ import annotations

import pytest

from .fixtures import REQUIRE, _skip_or_fail


def test_no_server_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REQUIRE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL server here"):
        _skip_or_fail("no PostgreSQL server here")


def test_no_server_fails_when_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match="must run"):
        _skip_or_fail("no PostgreSQL server here")
