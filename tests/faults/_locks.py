"""Helpers of the lock fault tests: the CLI in a child process, a served sandbox, the vendor's seats."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from saas_license_aha._payloads import parse_user
from saas_license_aha.mapping import identifiers_for

KEY = "fault-key-0123456789"
CLI = [sys.executable, "-c", "from saas_license.cli import main; main()"]


def cli(
    ws: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``saas-license --workspace WS ARGS…`` in a fresh process."""
    return subprocess.run(  # noqa: S603 - our own CLI, fixed argv
        [*CLI, "--workspace", str(ws), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "AHA_KEY": KEY, **(env or {})},
        check=False,
    )


def popen_cli(ws: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``saas-license --workspace WS ARGS…`` without waiting."""
    return subprocess.Popen(  # noqa: S603 - our own CLI, fixed argv
        [*CLI, "--workspace", str(ws), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "AHA_KEY": KEY, **(env or {})},
    )


@contextlib.contextmanager
def served_sandbox(*, users: int, seed: int, latency_ms: float = 0) -> Iterator[str]:
    """``saas-license sandbox serve`` on 127.0.0.1 (rate limits off); yields its base URL."""
    proc = subprocess.Popen(  # noqa: S603 - our own CLI, fixed argv
        [
            *CLI,
            *("sandbox", "serve", "--port", "0", "--rate-limit", "off"),
            *("--users", str(users), "--seed", str(seed), "--api-key", KEY),
            *("--latency", str(latency_ms)),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        base = next(line.split()[-1] for line in lines if line.startswith("base URL"))
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def publish(ws: Path, base: str) -> None:
    """A validated, published profile ``aha`` on the served account."""
    for args in (
        ["alias", "add", "aha-main", "--spoke", "aha", "--url", base, "--api-key-env", "AHA_KEY"],
        ["profile", "create", "aha", "--spoke", "aha", "--alias", "aha-main"],
        ["validate", "aha"],
        ["publish", "aha"],
    ):
        done = cli(ws, *args)
        assert done.returncode == 0, done.stderr


def vendor_seats(base: str) -> set[tuple[str, str]]:
    """(user id, identifier) of every seat the vendor reports, read over HTTP (8 pages at once)."""
    seats: set[tuple[str, str]] = set()
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {KEY}"}, timeout=60
    ) as client:

        def page(number: int) -> dict[str, Any]:
            body: dict[str, Any] = client.get(
                "/api/v1/users", params={"page": number, "per_page": 200}
            ).json()
            return body

        first = page(1)
        with ThreadPoolExecutor(max_workers=8) as pool:
            rest = list(pool.map(page, range(2, first["pagination"]["total_pages"] + 1)))
    for body in [first, *rest]:
        for raw in body["users"]:
            user = parse_user(raw)
            seats.update((user.id, ident) for ident in identifiers_for(user))
    return seats


def workspace_seats(ws: Path) -> tuple[set[tuple[str, str]], int]:
    """(user id, identifier) of the workspace's active seats of ``aha``, and its row count."""
    db = sqlite3.connect(ws)
    try:
        rows = db.execute(
            "SELECT external_user_id, identifier FROM subscriptions "
            "WHERE profile = 'aha' AND active = 1"
        ).fetchall()
        total = db.execute("SELECT COUNT(*) FROM subscriptions WHERE profile = 'aha'").fetchone()
    finally:
        db.close()
    return {(r[0], r[1]) for r in rows}, int(total[0])
