"""Fault-suite helpers: a real-HTTP Aha! sandbox with fault knobs, real ``saas-license``
processes (killable at a kill point), and checks on the *vendor's* state.

The sandbox runs in the test process (a thread serving 127.0.0.1), so the test reads the
vendor's own user records directly while the CLI runs in separate processes, exactly as an
operator's would.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import re
import secrets
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx

from saas_license import CandidateState, JobStatus, Workspace
from saas_license._time import format_instant, utcnow
from saas_license_aha.sandbox import INTEGRATION_USER_ID, SandboxApp, SandboxServer
from saas_license_aha.sandbox._faults import SandboxTimeout

from ..lifecycle.conftest import small_account

PROFILE = "aha"
_USER_PATH = re.compile(r"^/api/v1/users/([^/]+)$")

#: Users who must never be disabled, and why (checked on the vendor after every fault).
PROTECTED = {
    INTEGRATION_USER_ID: "integration user",
    "2007": "administrator",
    "2008": "active",
}


def account(now: dt.datetime) -> list[dict[str, Any]]:
    """The lifecycle suite's small account (the integration admin, six idle users, two with two
    seats, an idle admin, an active one), its dates counted back from ``now``."""
    return small_account(now)


class FaultySandbox:
    """The sandbox's request handler with the faults the reclaim path must survive.

    ``lose_put_answer``: users whose PUT is applied but whose answer never arrives (the
    connection drops). ``fail_reads``: users whose ``GET /users/:id`` answers 401 (not retried,
    so tests stay fast) while listed. ``fail_reads_after_put``: users whose reads start failing
    right after their PUT (a confirming read that fails).
    """

    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.lock = threading.Lock()
        self.lose_put_answer: set[str] = set()
        self.fail_reads: set[str] = set()
        self.fail_reads_after_put: set[str] = set()
        self.disables: Counter[str] = Counter()  # PUT enabled=false per user

    def clear(self) -> None:
        with self.lock:
            self.lose_put_answer.clear()
            self.fail_reads.clear()
            self.fail_reads_after_put.clear()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        match = _USER_PATH.match(request.url.path)
        uid = match.group(1) if match else None
        if uid is not None and request.method == "GET":
            with self.lock:
                failing = uid in self.fail_reads
            if failing:
                return httpx.Response(
                    401,
                    content=b"<html>You need to sign in</html>",
                    headers={"Content-Type": "text/html"},
                )
        response = self.app(request)
        if uid is not None and request.method == "PUT" and response.status_code == 200:
            body = json.loads(request.content or b"{}")
            with self.lock:
                if body.get("user", {}).get("enabled") is False:
                    self.disables[uid] += 1
                if uid in self.fail_reads_after_put:
                    self.fail_reads.add(uid)
                lose = uid in self.lose_put_answer
            if lose:
                raise SandboxTimeout(request, 0.05)  # applied, but the answer is lost
        return response


@attrs.define
class Estate:
    """One fault scenario: the vendor (sandbox served over HTTP) and a workspace file."""

    root: Path
    app: SandboxApp
    faults: FaultySandbox
    server: SandboxServer
    key: str
    seed: int
    rng: random.Random

    @property
    def workspace(self) -> Path:
        return self.root / "ws.db"

    def open(self) -> Workspace:
        return Workspace.open(self.workspace)

    # -- the vendor's side --------------------------------------------------------------

    def disabled(self) -> set[str]:
        """Users disabled at the vendor (its own records; a missing or null flag is not false)."""
        return {u["id"] for u in self.app.users() if u.get("enabled") is False}

    def set_vendor(self, uid: str, **fields: Any) -> None:
        user = self.app.user(uid)
        user.update(fields)
        self.app.set_user(user)

    def touch(self, uid: str) -> None:
        self.set_vendor(uid, accessed_at=format_instant(utcnow()))

    def drop(self, uid: str, field: str, *, null: bool = False) -> None:
        """The vendor stops sending ``field`` for a user (or sends it as null)."""
        user = self.app.user(uid)
        if null:
            user[field] = None
        else:
            user.pop(field, None)
        self.app.set_user(user)

    # -- real processes -----------------------------------------------------------------

    def cli(
        self, *args: str, kill_at: str | None = None, check: bool = False, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run ``saas-license ARGS`` in a new process (SIGKILLed at ``kill_at`` if given)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("SAAS_LICENSE_KILL")}
        env["SAAS_LICENSE_WORKSPACE"] = str(self.workspace)
        env["SAAS_LICENSE_TEST_KEY"] = self.key
        if kill_at:
            env["SAAS_LICENSE_KILL_AT"] = kill_at
        done = subprocess.run(  # noqa: S603 - our own CLI, fixed arguments
            [sys.executable, "-c", "from saas_license.cli import main; main()", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"saas-license {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
            )
        return done

    def plan_id(self) -> str:
        """Make a plan through the CLI; returns its id."""
        done = self.cli("reclaim", PROFILE, "--json", check=True)
        return str(json.loads(done.stdout)["id"])

    # -- the invariants -----------------------------------------------------------------

    def check_invariants(self, *, protected: dict[str, str] | None = None) -> None:
        """After one recovery step: zero protected users disabled (vendor state), no seat lost
        or duplicated, the workspace and the vendor agree, no job left running."""
        guard = {**PROTECTED, **(protected or {})}
        disabled = self.disabled()
        wrongful = {uid: why for uid, why in guard.items() if uid in disabled}
        assert not wrongful, f"seed {self.seed}: protected users disabled at the vendor: {wrongful}"
        ws = self.open()
        try:
            active = ws.subscriptions.query(PROFILE)
            keys = [(s.external_user_id, s.identifier) for s in active]
            assert len(keys) == len(set(keys)), f"seed {self.seed}: duplicated seats"
            # every user not disabled holds at least one seat (a paid one, or a free viewer's)
            enabled_with_seats = {
                u["id"] for u in self.app.users() if u.get("enabled") is not False
            }
            holders = {s.external_user_id for s in active}
            assert holders == enabled_with_seats, (
                f"seed {self.seed}: workspace and vendor disagree: only in workspace "
                f"{sorted(holders - enabled_with_seats)}, only at the vendor "
                f"{sorted(enabled_with_seats - holders)}"
            )
            for cand in ws.candidates.query(PROFILE):
                if cand.reclaimed:
                    assert cand.external_user_id in disabled, (
                        f"seed {self.seed}: candidate {cand.id} reclaimed but the user is enabled"
                    )
                if cand.state is CandidateState.AWAITING_REVOCATION:
                    pending = ws.store.unresolved_reclaim_actions(PROFILE)
                    assert not pending, f"seed {self.seed}: unresolved reclaims {pending}"
            for uid in disabled:
                closed = [
                    c
                    for c in ws.candidates.query(PROFILE)
                    if c.external_user_id == uid and c.state is CandidateState.CLOSED_COMPLETE
                ]
                assert closed and all(c.reclaim_id is not None for c in closed), (
                    f"seed {self.seed}: user {uid} disabled at the vendor with no reclaim recorded"
                )
            running = [
                j for j in ws.jobs.query(PROFILE, limit=1000) if j.status is JobStatus.RUNNING
            ]
            assert not running, f"seed {self.seed}: jobs left running: {running}"
            assert not ws.store.unresolved_reclaim_actions(PROFILE)
            for uid, n in self.faults.disables.items():
                assert n == 1, f"seed {self.seed}: user {uid} was disabled {n} times (re-sent)"
        finally:
            ws.close()


def make_estate(root: Path, seed: int) -> Iterator[Estate]:
    """A published profile on a fresh workspace, run once (candidates exist), served over HTTP."""
    key = secrets.token_urlsafe(18)
    app = SandboxApp(account(utcnow()), api_keys=[key])
    faults = FaultySandbox(app)
    server = SandboxServer(app)
    server._server.app = faults  # type: ignore[assignment]  # the handler calls the wrapper
    server.start()
    estate = Estate(
        root=root,
        app=app,
        faults=faults,
        server=server,
        key=key,
        seed=seed,
        rng=random.Random(seed),
    )
    try:
        ws = estate.open()
        ws.profiles.add_alias("aha-main", spoke="aha", base_url=server.base_url, api_key=key)
        ws.profiles.create(PROFILE, spoke="aha", alias="aha-main")
        assert ws.profiles.validate(PROFILE).download_ok
        ws.profiles.publish(PROFILE)
        ws.close()
        yield estate
    finally:
        server.stop()


class ServedSandbox:
    """``saas-license sandbox serve`` in its own process, driven through its control channel
    (``/__sandbox/…``): the vendor is another process too, as in production."""

    def __init__(self, *, users: int, seed: int, key: str) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed arguments
            [
                sys.executable,
                "-c",
                "from saas_license.cli import main; main()",
                *("sandbox", "serve", "--port", "0", "--users", str(users), "--seed", str(seed)),
                *("--api-key", key, "--rate-limit", "off"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base_url = ""
        for line in self.proc.stdout:
            if line.startswith("base URL:"):
                self.base_url = line.split(":", 1)[1].strip()
                break
        assert self.base_url.startswith("http://127.0.0.1:"), "sandbox serve did not start"
        self.key = key
        self.http = httpx.Client(base_url=self.base_url, timeout=10)
        self.ids = self._ids()

    def _ids(self) -> list[str]:
        """Every user id, from the API listing (before any fault is set)."""
        out: list[str] = []
        page = 1
        while True:
            listing = self.http.get(
                "/api/v1/users",
                params={"page": page, "per_page": 200},
                headers={"Authorization": f"Bearer {self.key}"},
            ).json()
            out.extend(str(u["id"]) for u in listing["users"])
            if page >= listing["pagination"]["total_pages"]:
                return out
            page += 1

    def users(self) -> list[dict[str, Any]]:
        """The vendor's own records, as stored (read through the control channel: never faulted)."""
        return [self.user(uid) for uid in self.ids]

    def user(self, uid: str) -> dict[str, Any]:
        got = self.http.get(f"/__sandbox/users/{uid}")
        got.raise_for_status()
        return dict(got.json())

    def faults(self, **changes: Any) -> None:
        self.http.post("/__sandbox/faults", json=changes).raise_for_status()

    def puts(self) -> Counter[str]:
        """``PUT /api/v1/users/:id`` requests seen, per user id."""
        seen = self.http.get("/__sandbox/requests").json()["requests"]
        return Counter(p.rsplit("/", 1)[-1] for m, p in seen if m == "PUT")

    def stop(self) -> None:
        self.http.close()
        self.proc.terminate()
        self.proc.wait(timeout=10)
