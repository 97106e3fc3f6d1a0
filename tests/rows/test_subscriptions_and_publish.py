"""``subscriptions`` (library rows and the CLI, streamed), ``publish --run``, job names and
``profile show`` with each process's vendor configuration."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from saas_license import ConfigError, ExclusionRule, Workspace
from saas_license._time import days_between
from saas_license.cli import main
from saas_license_aha.sandbox import SandboxApp, SandboxServer

from ..conftest import NOW


def test_rows_filters_agree_with_a_plain_scan(published: Workspace) -> None:
    ws = published
    ws.jobs.run("aha")
    every = list(ws.subscriptions.query("aha"))
    upn = every[0].user_principal_name
    ws.rules.add_exclusion(ExclusionRule(kind="user", value=upn.upper(), effect="cost"))
    rows = list(ws.subscriptions.rows("aha"))
    assert [r.subscription.id for r in rows] == [s.id for s in every]
    for r in rows:
        s = r.subscription
        if s.last_activity is not None:
            assert r.inactive_days == days_between(s.last_activity, NOW)
        assert r.excluded_from == (("cost",) if s.user_principal_name == upn else ())
    for n in (0, 1, 30, 90, 400):
        want = {
            r.subscription.id for r in rows if r.inactive_days is not None and r.inactive_days >= n
        }
        got = {r.subscription.id for r in ws.subscriptions.rows("aha", inactive_days=n)}
        assert got == want, n
    assert 0 < len(list(ws.subscriptions.rows(inactive_days=90))) < len(rows)
    model = "Aha! Roadmaps"
    assert {r.subscription.id for r in ws.subscriptions.rows(software_model=model)} == {
        s.id for s in every if s.software_model == model
    }
    excluded = {r.subscription.id for r in ws.subscriptions.rows(excluded=True)}
    kept = {r.subscription.id for r in ws.subscriptions.rows(excluded=False)}
    assert excluded and kept and not excluded & kept and excluded | kept == {s.id for s in every}
    with pytest.raises(ConfigError, match="no software model named 'Nope'"):
        list(ws.subscriptions.rows(software_model="Nope"))
    with pytest.raises(ConfigError, match="no profile named"):
        list(ws.subscriptions.rows("nope"))


def test_rows_stream_page_by_page(published: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store is read in pages of BATCH_SIZE: the first row arrives before the last page is
    read, so a million seats never sit in memory at once."""
    import saas_license._store._sqlite.subscriptions as subs

    published.jobs.run("aha")
    total = len(published.subscriptions.query("aha"))
    monkeypatch.setattr(subs, "BATCH_SIZE", 7)
    pages: list[int] = []
    real = published.store._q  # type: ignore[attr-defined]

    def counting(sql: str, params: tuple[object, ...] = ()) -> object:
        if "FROM subscriptions WHERE id > ?" in sql:
            pages.append(1)
        return real(sql, params)

    monkeypatch.setattr(published.store, "_q", counting)
    rows = published.subscriptions.rows("aha")
    next(rows)
    assert len(pages) == 1
    assert 1 + sum(1 for _ in rows) == total
    assert len(pages) == total // 7 + 1 + (1 if total % 7 else 0)


KEY = "rows-key-0123456789"


def _cli(capsys: pytest.CaptureFixture[str], ws: Path, *args: str) -> tuple[int, str, str]:
    code = 0
    try:
        main(["--workspace", str(ws), *args])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def validated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Path]:
    """A validated (not yet published) profile ``aha`` talking HTTP to a local sandbox."""
    monkeypatch.setenv("SAAS_LICENSE_NOW", "2026-06-15T12:00:00Z")
    monkeypatch.setenv("AHA_KEY", KEY)
    app = SandboxApp(user_count=60, api_keys=[KEY], seed=5, anchor=NOW)
    ws = tmp_path / "ws.db"
    with SandboxServer(app) as server:
        for args in (
            [
                "alias",
                "add",
                "main",
                "--spoke",
                "aha",
                "--url",
                server.base_url,
                "--api-key-env",
                "AHA_KEY",
            ],
            [
                "profile",
                "create",
                "aha",
                "--spoke",
                "aha",
                "--alias",
                "main",
                "--display-name",
                "Aha! Integration",
            ],
            ["validate", "aha"],
        ):
            code, _, err = _cli(capsys, ws, *args)
            assert code == 0, err
        yield ws


def test_publish_run_downloads_at_once_and_names_the_next_run(
    validated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, validated, "publish", "aha", "--run")
    assert code == 0, err
    assert "profile aha is published" in out
    assert "next scheduled run: Refresh Aha! Integration " in out
    assert "at 2026-06-16T12:00:00+00:00 (every 1d;" in out  # the first run happened now
    code, out, _ = _cli(capsys, validated, "jobs", "--json")
    jobs = json.loads(out)["jobs"]
    assert {j["process"] for j in jobs} == {"download", "activity", "evaluate"}
    assert {j["trigger"] for j in jobs} == {"publish"}
    assert all(j["status"] == "complete" for j in jobs)
    code, out, _ = _cli(capsys, validated, "jobs", "--scheduled", "--json")
    names = {j["process"]: j["name"] for j in json.loads(out)["scheduled"]}
    assert names == {
        "download": "Refresh Aha! Integration subscriptions",
        "activity": "Refresh Aha! Integration activity",
    }
    code, out, _ = _cli(capsys, validated, "jobs", "--scheduled")
    assert "Refresh Aha! Integration subscriptions" in out
    code, out, _ = _cli(capsys, validated, "run", "--due")
    assert "nothing is due" in out


def test_publish_without_run_is_due_now(
    validated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _cli(capsys, validated, "publish", "aha")
    assert code == 0
    assert "next scheduled run: Refresh Aha! Integration subscriptions now (every 1d;" in out
    code, out, _ = _cli(capsys, validated, "jobs", "--json")
    assert json.loads(out)["jobs"] == []  # nothing ran


def test_profile_show_gives_each_processs_vendor_configuration(
    validated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(capsys, validated, "profile", "edit", "aha", "--no-reclaim")[0] == 0
    code, out, _ = _cli(capsys, validated, "profile", "show", "aha", "--json")
    shown = json.loads(out)
    assert shown["connection"]["credentials"] == ["api_key"]
    assert shown["connection"]["base_url"].startswith("http://127.0.0.1:")
    assert KEY not in out
    config = {c["process"]: c for c in shown["processes"]}
    assert set(config) == {"download", "activity", "reclaim"}
    assert config["reclaim"]["enabled"] is False and config["download"]["enabled"] is True
    assert config["download"]["vendor_role"] == "administrator"
    code, out, _ = _cli(capsys, validated, "profile", "show", "aha")
    assert code == 0
    assert "vendor configuration" in out and "(credentials: api_key;" in out and KEY not in out
    reclaim = next(x for x in out.splitlines() if x.strip().startswith("reclaim "))
    assert reclaim.split()[1] == "no" and "administrator" in reclaim


def test_subscriptions_command(validated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli(capsys, validated, "publish", "aha", "--run")[0] == 0
    code, out, _ = _cli(capsys, validated, "subscriptions", "--json")
    every = json.loads(out)
    assert code == 0 and every["count"] == len(every["subscriptions"]) > 20
    upn = every["subscriptions"][0]["user_principal_name"]
    code, _, err = _cli(capsys, validated, "rules", "exclude", "--user", upn, "--effect", "reclaim")
    assert code == 0, err
    code, out, _ = _cli(capsys, validated, "subscriptions", "--excluded", "--json")
    rows = json.loads(out)["subscriptions"]
    assert rows and {r["user_principal_name"] for r in rows} == {upn}
    assert {tuple(r["excluded_from"]) for r in rows} == {("reclaim",)}
    code, out, _ = _cli(capsys, validated, "subscriptions", "--not-excluded", "--json")
    assert json.loads(out)["count"] == every["count"] - len(rows)
    code, out, _ = _cli(capsys, validated, "subscriptions", "--csv", "--inactive-days", "60")
    idle = list(csv.DictReader(io.StringIO(out)))
    want = [s for s in every["subscriptions"] if (s["inactive_days"] or -1) >= 60]
    assert [int(r["id"]) for r in idle] == [s["id"] for s in want] and want
    code, out, _ = _cli(capsys, validated, "subscriptions", "--model", "Aha! Develop", "--json")
    assert {s["software_model"] for s in json.loads(out)["subscriptions"]} == {"Aha! Develop"}
    code, out, _ = _cli(capsys, validated, "subscriptions", "--limit", "3")
    lines = out.splitlines()
    assert len(lines) == 2 + 3 + 1 and f"more of {every['count']:,}" in lines[-1]
    code, out, _ = _cli(capsys, validated, "subscriptions", "--all")
    assert len(out.splitlines()) == 2 + every["count"]
    code, _, err = _cli(capsys, validated, "subscriptions", "--profile", "nope")
    assert code == 2 and "no profile named 'nope'" in err
    code, _, err = _cli(capsys, validated, "subscriptions", "--json", "--csv")
    assert code == 2 and "not both" in err
    code, out, _ = _cli(capsys, validated, "subscriptions", "--inactive-days", "100000")
    assert code == 0 and "(no subscriptions match)" in out
