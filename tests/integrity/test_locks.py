"""Run locks (atomic takeover, heartbeats, host and pid), the busy error, and staged downloads."""

from __future__ import annotations

import datetime as dt
import os
import socket
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from saas_license import (
    EvaluationPolicy,
    HttpOptions,
    RunInProgressError,
    SqliteStore,
    Workspace,
)
from saas_license.cli import main
from saas_license.errors import WorkspaceBusyError
from saas_license.jobs import JobStatus, RunLock
from saas_license.scheduling import STALE_AFTER, _Heartbeat, lock_is_stale, run_lock
from saas_license.store import _sqlite
from saas_license_aha.sandbox import SandboxApp

from ..lifecycle.conftest import Harness

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.timezone.utc)
DEAD_PID = 2**22 + 12345  # no such process


def _lock(owner: str, *, host: str = "elsewhere", pid: int = 1, beat: dt.datetime = NOW) -> RunLock:
    return RunLock(
        profile="p",
        owner=owner,
        host=host,
        pid=pid,
        acquired_at=beat,
        expires_at=beat + STALE_AFTER,
        heartbeat_at=beat,
    )


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "s.db")


def test_the_default_stale_after_is_two_minutes_not_six_hours() -> None:
    assert EvaluationPolicy().run_lock_ttl == STALE_AFTER == dt.timedelta(minutes=2)


def test_takeover_is_a_compare_and_set(store: SqliteStore) -> None:
    assert store.acquire_run_lock(_lock("crashed"), now=NOW) is None
    seen = store.get_run_lock("p")
    assert seen is not None and seen.heartbeat_at == NOW
    # two contenders judged the same lock stale: exactly one replaces it
    assert store.take_over_run_lock(_lock("first", beat=NOW + STALE_AFTER), expected=seen)
    assert not store.take_over_run_lock(_lock("second", beat=NOW + STALE_AFTER), expected=seen)
    assert store.get_run_lock("p").owner == "first"  # type: ignore[union-attr]


def test_a_heartbeat_in_between_defeats_a_takeover(store: SqliteStore) -> None:
    store.acquire_run_lock(_lock("holder"), now=NOW)
    seen = store.get_run_lock("p")
    assert seen is not None
    later = NOW + dt.timedelta(seconds=20)
    assert store.heartbeat_run_lock("p", "holder", at=later, expires_at=later + STALE_AFTER)
    assert not store.take_over_run_lock(_lock("contender"), expected=seen)
    assert store.get_run_lock("p").heartbeat_at == later  # type: ignore[union-attr]
    assert not store.heartbeat_run_lock("p", "nobody", at=later, expires_at=later)


def test_stale_means_no_heartbeat_for_two_minutes_or_a_dead_pid_here() -> None:
    other = _lock("x", host="elsewhere", pid=os.getpid())
    assert not lock_is_stale(other, NOW + dt.timedelta(seconds=119))
    assert lock_is_stale(other, NOW + dt.timedelta(seconds=120))
    here_dead = _lock("y", host=socket.gethostname(), pid=DEAD_PID)
    assert lock_is_stale(here_dead, NOW)  # at once
    here_alive = _lock("z", host=socket.gethostname(), pid=os.getpid())
    assert not lock_is_stale(here_alive, NOW)
    # a holder that runs with a longer stale-after (say, an undo) is judged by its own
    patient = attrs_evolve(other, expires_at=NOW + dt.timedelta(hours=1))
    assert not lock_is_stale(patient, NOW + dt.timedelta(minutes=30))


def test_a_six_hour_lock_from_before_the_upgrade_blocks_two_minutes(tmp_path: Path) -> None:
    """The migration gives locks written with the old 6 h expiry the new 2 min one."""
    path = tmp_path / "old.db"
    SqliteStore(path).close()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DELETE FROM schema_versions WHERE namespace = 'integrity'")
    db.execute("DROP TABLE audit_chains")
    db.execute("DROP INDEX audit_log_chain_seq")
    for trigger in ("audit_log_no_replace", "audit_log_chained"):
        db.execute(f"DROP TRIGGER {trigger}")
    db.execute("ALTER TABLE run_locks DROP COLUMN heartbeat_at")
    for column in ("chain", "seq", "prev_hash", "hash"):
        db.execute(f"ALTER TABLE audit_log DROP COLUMN {column}")
    db.execute(
        "INSERT INTO run_locks (profile, owner, host, pid, acquired_at, expires_at) VALUES "
        "('p', 'old', 'elsewhere', 1, '2026-06-15T12:00:00.000Z', '2026-06-15T18:00:00.000Z')"
    )
    db.close()
    lock = SqliteStore(path).get_run_lock("p")
    assert lock is not None and lock.heartbeat_at == NOW
    assert lock.expires_at == NOW + STALE_AFTER


def attrs_evolve(lock: RunLock, **changes: Any) -> RunLock:
    import attrs

    return attrs.evolve(lock, **changes)


@pytest.fixture
def harness() -> Any:
    h = Harness()
    yield h
    h.close()


def test_a_crashed_run_on_another_host_blocks_for_two_minutes_only(harness: Harness) -> None:
    ws, clock = harness.ws, harness.clock
    crashed = RunLock(
        profile="aha",
        owner="crashed-elsewhere",
        host="another-host.example",
        pid=4242,
        acquired_at=clock.now - dt.timedelta(hours=1),
        expires_at=clock.now + STALE_AFTER,
        heartbeat_at=clock.now,
    )
    assert ws.store.acquire_run_lock(crashed, now=clock.now) is None
    clock.advance(seconds=90)
    with pytest.raises(RunInProgressError, match="already running on another-host.example") as e:
        ws.run("aha")
    assert "2 min after its last heartbeat" in str(e.value)
    clock.advance(seconds=31)
    assert ws.run("aha").ok
    assert ws.store.get_run_lock("aha") is None


def test_the_holder_beats_and_notices_a_lost_lock(store: SqliteStore) -> None:
    with run_lock(store, "p", now=NOW, ttl=STALE_AFTER) as lock:
        held = store.get_run_lock("p")
        assert held is not None and held.owner == lock.owner and held.host == socket.gethostname()
        assert held.pid == os.getpid() and held.heartbeat_at == NOW
        beat = _Heartbeat(store, lock, stale_after=STALE_AFTER)
        assert beat.beat() and not beat.lost
        after = store.get_run_lock("p")
        assert after is not None and after.heartbeat_at is not None
        assert after.heartbeat_at >= NOW and after.expires_at == after.heartbeat_at + STALE_AFTER
        assert store.take_over_run_lock(_lock("thief"), expected=after)
        assert not beat.beat() and beat.lost
    assert store.get_run_lock("p").owner == "thief"  # type: ignore[union-attr]  # not released


def test_a_run_that_lost_its_lock_stops_writing(published: Workspace, sandbox: SandboxApp) -> None:
    """Another process takes the lock over mid-download: the staged seats are never merged."""
    ws = published
    ws.run("aha")
    before = {(s.external_user_id, s.identifier, s.last_seen_at) for s in ws.subscriptions("aha")}

    def steal(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/users" and request.url.params.get("page") == "1":
            held = ws.store.get_run_lock("aha")
            assert held is not None
            assert ws.store.take_over_run_lock(
                attrs_evolve(held, owner="thief", heartbeat_at=held.heartbeat_at), expected=held
            )
        return sandbox(request)

    ws.http = HttpOptions(transport=httpx.MockTransport(steal), rate_limit=False)
    with pytest.raises(RunInProgressError, match="lost its run lock"):
        ws.run("aha")
    after = {(s.external_user_id, s.identifier, s.last_seen_at) for s in ws.subscriptions("aha")}
    assert after == before
    failed = ws.jobs("aha", limit=1)[0]
    assert failed.process == "download" and failed.status is JobStatus.FAILED


def test_reads_and_writes_work_during_a_download(
    published: Workspace, sandbox: SandboxApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While the vendor is being read, a second connection that will not wait at all can add an
    exclusion rule, list jobs and append to the audit log: the download holds no write lock."""
    ws = published
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT_MS", 0)
    other = SqliteStore(ws.path or "")
    done: list[str] = []

    def meanwhile(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/users" and not done:
            from saas_license import ExclusionRule

            other.add_exclusion_rule(ExclusionRule(kind="user", value="ceo@example.com"))
            assert other.list_jobs("aha")[0].status is JobStatus.RUNNING
            done.append("wrote")
        return sandbox(request)

    ws.http = HttpOptions(transport=httpx.MockTransport(meanwhile), rate_limit=False)
    report = ws.run("aha")
    assert report.ok and done == ["wrote"]
    assert [r.value for r in ws.exclusion_rules()] == ["ceo@example.com"]
    assert ws.store.write_stats.longest_seconds < 5  # a sanity bound, not a timing test
    other.close()


def test_deleting_a_running_profile_is_refused(published: Workspace) -> None:
    ws = published
    with (
        run_lock(ws.store, "aha", now=ws.clock(), ttl=STALE_AFTER),
        pytest.raises(RunInProgressError, match="already running"),
    ):
        ws.delete_profile("aha")
    assert ws.profile("aha").name == "aha"


def _hold_write_lock(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    return db


def test_a_locked_database_is_the_busy_error(
    store: SqliteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT_MS", 50)
    quick = SqliteStore(store.path)
    holder = _hold_write_lock(store.path)
    try:
        with pytest.raises(WorkspaceBusyError, match="busy") as err:
            quick.set_meta("k", "v")
        assert "try again in a moment" in str(err.value)
        assert quick.get_meta("k") is None  # reads still work
    finally:
        holder.execute("ROLLBACK")
    quick.set_meta("k", "v")


def test_busy_commands_exit_75_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "ws.db")
    Workspace.open(path).close()
    monkeypatch.setattr(_sqlite, "BUSY_TIMEOUT_MS", 50)
    holder = _hold_write_lock(path)
    try:
        with pytest.raises(SystemExit) as exit_:
            main(["--workspace", path, "rules", "exclude", "--user", "ceo@example.com"])
    finally:
        holder.execute("ROLLBACK")
    err = capsys.readouterr().err
    assert exit_.value.code == 75
    assert err.startswith("error: ") and "busy" in err and len(err.strip().splitlines()) == 1
    assert "Traceback" not in err and "database is locked" not in err
    ok = CliRunner().invoke(main_cli(), ["--workspace", path, "jobs", "--json"])
    assert ok.exit_code == 0


def main_cli() -> Any:
    from saas_license.cli import cli

    return cli


def test_every_busy_command_is_one_line_and_exit_75(
    published: Workspace, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(published.path)
    with run_lock(published.store, "aha", now=published.clock(), ttl=STALE_AFTER):
        for argv in (["run", "aha"], ["run", "--due"], ["profile", "delete", "aha", "--yes"]):
            with pytest.raises(SystemExit) as exit_:
                main(["--workspace", path, *argv])
            err = capsys.readouterr().err
            assert exit_.value.code == 75, (argv, err)
            assert "already running" in err or "busy: skipped aha" in err
            assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert published.profile("aha").name == "aha"


def test_the_background_thread_beats_while_the_lock_is_held(store: SqliteStore) -> None:
    """With a 6 s stale-after the thread beats every second; wait (up to 10 s) for one beat."""
    import time

    with run_lock(store, "p", now=NOW, ttl=dt.timedelta(seconds=6)):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            held = store.get_run_lock("p")
            assert held is not None
            if held.heartbeat_at is not None and held.heartbeat_at > NOW:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("no heartbeat within 10 s")
        assert held.expires_at == held.heartbeat_at + dt.timedelta(seconds=6)
    assert store.get_run_lock("p") is None


def test_a_raw_database_is_locked_is_the_busy_answer_too(
    published: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Whatever path a `database is locked` takes out of the store, the CLI says busy, exit 75."""

    def locked(*_a: object, **_k: object) -> None:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(Workspace, "jobs", locked)
    with pytest.raises(SystemExit) as exit_:
        main(["--workspace", str(published.path), "jobs"])
    err = capsys.readouterr().err
    assert exit_.value.code == 75
    assert err.strip().splitlines() == [
        "error: the workspace is locked by another saas-license process — try again in a moment"
    ]
