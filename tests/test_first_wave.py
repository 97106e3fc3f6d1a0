"""The download's first wave: a listing the workspace expects to span N pages asks for them with
page 1 (one round trip instead of two), and reads exactly the same seats as without it, whatever
the hint says; a failing wave stores nothing and closes nothing."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from saas_license import HttpOptions, JobStatus, Workspace
from saas_license._spokes import EXPECTED_RECORDS_META
from saas_license_aha.sandbox import SandboxApp

from .conftest import API_KEY

USERS = 650  # four pages of 200


class _Recording(httpx.BaseTransport):
    """The sandbox's transport, noting each users page asked for and holding page 1's answer
    until ``hold`` other pages were asked for (or a few seconds passed)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.pages: list[int] = []
        self.hold = 0
        self.failing: set[int] = set()
        self.others = threading.Semaphore(0)
        self.held_alone = False
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        page = request.url.params.get("page")
        if request.url.path == "/api/v1/users" and page is not None:
            number = int(page)
            with self.lock:
                self.pages.append(number)
            if number == 1:
                for _ in range(self.hold):
                    if not self.others.acquire(timeout=5):
                        self.held_alone = True
                        break
            else:
                self.others.release()
            if number in self.failing:
                return httpx.Response(500, json={"error": "page refused"})
        return self.inner.handle_request(request)


@pytest.fixture
def sandbox(now: dt.datetime) -> SandboxApp:
    return SandboxApp(user_count=USERS, api_keys=[API_KEY], seed=5, anchor=now)


@pytest.fixture
def recording(sandbox: SandboxApp) -> _Recording:
    return _Recording(sandbox.transport())


@pytest.fixture
def ws(tmp_path: Path, recording: _Recording, now: dt.datetime) -> Iterator[Workspace]:
    http = HttpOptions(transport=recording, rate_limit=False, max_retries=0)
    workspace = Workspace.open(tmp_path / "ws.db", http=http, clock=lambda: now)
    workspace.profiles.add_alias("a", spoke="aha", base_url="https://acme.aha.io", api_key=API_KEY)
    workspace.profiles.create("aha", spoke="aha", alias="a")
    yield workspace
    workspace.close()


def _seats(ws: Workspace) -> set[tuple[str, str]]:
    return {(s.external_user_id, s.identifier) for s in ws.subscriptions.query("aha")}


def test_validation_sizes_the_first_runs_wave(ws: Workspace, recording: _Recording) -> None:
    assert ws.profiles.validate("aha").expected_records == USERS
    assert ws.store.get_meta(EXPECTED_RECORDS_META + "aha") == str(USERS)
    ws.profiles.publish("aha")
    recording.pages.clear()
    recording.hold = 3  # page 1 answers only once pages 2-4 were asked for
    report = ws.jobs.run("aha")
    assert report.ok and not recording.held_alone, "pages 2-4 waited for page 1"
    assert sorted(recording.pages) == [1, 2, 3, 4]


def test_a_complete_download_keeps_its_count_for_the_next_one(
    ws: Workspace, recording: _Recording, sandbox: SandboxApp
) -> None:
    ws.profiles.validate("aha")
    ws.profiles.publish("aha")
    first = ws.jobs.run("aha")
    records = next(j for j in first.jobs if j.process == "download").counts["records"]
    assert records > USERS  # seats, not users: the hint errs on the large side
    assert ws.store.get_meta(EXPECTED_RECORDS_META + "aha") == str(records)
    seats = _seats(ws)
    recording.pages.clear()
    second = ws.jobs.run("aha")
    assert second.ok and _seats(ws) == seats
    # ceil(records / 200) pages asked at once: those past the fourth come back empty
    wave = min(10, -(-records // 200))
    assert sorted(recording.pages) == list(range(1, max(4, wave) + 1))


@pytest.mark.parametrize("hint", ["1", "100000", "not a number", "-5"])
def test_any_hint_reads_exactly_the_same_seats(
    ws: Workspace, recording: _Recording, tmp_path: Path, now: dt.datetime, hint: str
) -> None:
    ws.profiles.validate("aha")
    ws.profiles.publish("aha")
    ws.store.set_meta(EXPECTED_RECORDS_META + "aha", hint)
    report = ws.jobs.run("aha")
    download = next(j for j in report.jobs if j.process == "download")
    assert download.counts["closed"] == 0 and download.counts["quarantined"] == 0
    assert set(recording.pages) >= {1, 2, 3, 4}
    assert recording.pages.count(2) == 1  # each page inside the listing read once
    # the same seats as a workspace that never had a hint
    plain = Workspace.open(
        tmp_path / "plain.db",
        http=HttpOptions(transport=recording.inner, rate_limit=False),
        clock=lambda: now,
    )
    try:
        plain.profiles.add_alias("a", spoke="aha", base_url="https://acme.aha.io", api_key=API_KEY)
        plain.profiles.create("aha", spoke="aha", alias="a")
        plain.profiles.validate("aha")
        plain.profiles.publish("aha")
        plain.store.set_meta(EXPECTED_RECORDS_META + "aha", "")
        plain.jobs.run("aha")
        assert _seats(plain) == _seats(ws)
    finally:
        plain.close()


def test_a_wave_with_a_failing_page_stores_nothing_and_closes_nothing(
    ws: Workspace, recording: _Recording, sandbox: SandboxApp
) -> None:
    ws.profiles.validate("aha")
    ws.profiles.publish("aha")
    ws.jobs.run("aha")
    seats = _seats(ws)
    sandbox.remove_user(sandbox.users()[0]["id"])  # would close seats, if the run completed
    recording.failing = {3}
    with pytest.raises(Exception, match="500|refused"):
        ws.jobs.run("aha")
    failed = next(j for j in ws.jobs.query("aha") if j.process == "download")
    assert failed.status is JobStatus.FAILED
    assert _seats(ws) == seats, "a failed download changed the seats"
    # a refused page past the end is no failure: the listing is complete without it
    recording.failing = {9}
    assert ws.jobs.run("aha").ok
    assert _seats(ws) < seats
