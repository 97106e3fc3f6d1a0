"""``python -m benchmarks.postgres``: the PostgreSQL store against SQLite, and many workers.

Starts a throwaway PostgreSQL server (``tests/postgres/server.py``; or uses
``SAAS_LICENSE_TEST_POSTGRES_URL`` and ``..._OWNER_URL``) and a seeded sandbox account served
over real HTTP on 127.0.0.1 (rate limits off), then measures, each figure with its floor from
the same run:

- **daily run**: one profile's full cycle (download, activity, evaluate, plan) of ``--users``
  users, into a SQLite file (the floor) and into PostgreSQL (ratio to SQLite), then one
  reconciliation of it (the SQL aggregates, on each store);
- **workers**: ``--profiles`` published profiles run by 1 worker process (the floor) and by
  ``--workers`` processes sharing the PostgreSQL workspace (speed-up over 1), with
  ``--latency`` ms added by the vendor to every request, as a real vendor's answers take time;
  timed from the first job's start to the last job's end (process start-up excluded);
- **copy**: ``workspace copy`` of the daily run's SQLite workspace into PostgreSQL and back
  (rows per second; the floor is the SQLite→SQLite copy).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _server() -> tuple[str, str, str | None]:
    app, owner = (
        os.environ.get("SAAS_LICENSE_TEST_POSTGRES_URL"),
        os.environ.get("SAAS_LICENSE_TEST_POSTGRES_OWNER_URL"),
    )
    if app and owner:
        return app, owner, None
    sys.path.insert(0, str(ROOT))
    from tests.postgres import server

    started = server.start()
    return started.app_url, started.owner_url, started.directory


def _schema(app: str, owner: str) -> tuple[str, str]:
    import psycopg
    from tests.postgres.fixtures import with_schema

    name = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return with_schema(app, name), with_schema(owner, name)


def _setup(ws: Any, base_url: str, key: str, names: list[str]) -> None:
    ws.profiles.add_alias("a", spoke="aha", base_url=base_url, api_key=key)
    for name in names:
        ws.profiles.create(name, spoke="aha", alias="a")
        ws.profiles.validate(name)
        ws.profiles.publish(name)


def daily_run(target: str, base_url: str, key: str) -> dict[str, Any]:
    from saas_license import HttpOptions, Workspace

    ws = Workspace.open(target, http=HttpOptions(rate_limit=False))
    try:
        _setup(ws, base_url, key, ["p"])
        t0 = time.perf_counter()
        report = ws.jobs.run("p")
        wall = time.perf_counter() - t0
        t1 = time.perf_counter()
        ws.finance.reconcile()
        reconcile = time.perf_counter() - t1
        return {
            "reconcile": reconcile,
            "bytes": _size(ws.store, target),
            "seats": ws.store.count_subscriptions("p")["total"],
            "candidates": report.candidates_created,
            "wall": wall,
            "jobs": {j.process: j.duration_seconds or 0.0 for j in report.jobs},
        }
    finally:
        ws.close()


def _size(store: Any, target: str) -> int:
    """The workspace's size on disk: the SQLite file (and its WAL), or the schema's tables."""
    if not target.startswith("postgresql"):
        return sum(f.stat().st_size for f in Path(target).parent.glob(Path(target).name + "*"))
    row = store._q(
        "SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = current_schema() AND c.relkind = 'r'"
    ).fetchone()
    return int(row[0])


def _worker_child() -> None:
    from saas_license import HttpOptions, Workspace

    ws = Workspace.open(os.environ["BENCH_URL"], http=HttpOptions(rate_limit=False), create=False)
    try:
        while ws.jobs.due():
            ws.jobs.run_due()
    finally:
        ws.close()


def workers(n: int, url: str, env: dict[str, str]) -> float:
    """Seconds from the first job's start to the last job's end (process start-up excluded)."""
    from saas_license import Workspace

    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.postgres", "--worker"],
            cwd=ROOT,
            env={**os.environ, **env, "BENCH_URL": url},
        )
        for _ in range(n)
    ]
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"a worker failed ({p.returncode})")
    ws = Workspace.open(url, create=False)
    try:
        jobs = ws.jobs.query(limit=100_000)
    finally:
        ws.close()
    first = min(j.started_at for j in jobs)
    last = max(j.finished_at or j.started_at for j in jobs)
    return (last - first).total_seconds()


def copy_rate(source: str, target: str) -> tuple[float, int]:
    from saas_license import Workspace
    from saas_license._store.copy import copy_workspace

    src, dst = Workspace.open(source, create=False), Workspace.open(target)
    try:
        t0 = time.perf_counter()
        report = copy_workspace(src.store, dst.store)
        return time.perf_counter() - t0, sum(report.rows.values())
    finally:
        src.close()
        dst.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--profiles", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--latency", type=float, default=500.0, help="vendor ms per request")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker_child()
        return

    from saas_license_aha.sandbox import SandboxApp, SandboxServer

    app_url, owner_url, directory = _server()
    key = "bench-key-0123456789"
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SAAS_LICENSE_SECRETS"] = str(Path(tmp) / "pg.secrets.json")
        try:
            big = SandboxServer(SandboxApp(user_count=args.users, api_keys=[key], seed=7)).start()
            try:
                sqlite_file = str(Path(tmp) / "bench.db")
                out["daily_sqlite"] = daily_run(sqlite_file, big.base_url, key)
                pg, owner = _schema(app_url, owner_url)
                os.environ["SAAS_LICENSE_POSTGRES_OWNER_URL"] = owner
                out["daily_postgres"] = daily_run(pg, big.base_url, key)
            finally:
                big.stop()

            secs, rows = copy_rate(sqlite_file, str(Path(tmp) / "copy.db"))
            out["copy_sqlite_to_sqlite"] = {"seconds": secs, "rows": rows}
            pg, owner = _schema(app_url, owner_url)
            os.environ["SAAS_LICENSE_POSTGRES_OWNER_URL"] = owner
            secs, rows = copy_rate(sqlite_file, pg)
            out["copy_sqlite_to_postgres"] = {"seconds": secs, "rows": rows}
            secs, rows = copy_rate(pg, str(Path(tmp) / "back.db"))
            out["copy_postgres_to_sqlite"] = {"seconds": secs, "rows": rows}

            slow = SandboxApp(user_count=50, api_keys=[key], seed=3)
            served = SandboxServer(slow)
            _latency(served, args.latency)
            served.start()
            try:
                names = [f"p{i:03d}" for i in range(args.profiles)]
                runs = {}
                for n in (1, args.workers):
                    pg, owner = _schema(app_url, owner_url)
                    os.environ["SAAS_LICENSE_POSTGRES_OWNER_URL"] = owner
                    from saas_license import HttpOptions, Workspace

                    ws = Workspace.open(pg, http=HttpOptions(rate_limit=False))
                    _setup(ws, served.base_url, key, names)
                    ws.close()
                    runs[n] = workers(n, pg, {})
                out["workers"] = {str(n): s for n, s in runs.items()}
            finally:
                served.stop()
        finally:
            if directory:
                from tests.postgres import server

                server.stop(directory)
    _print(out, args)


def _latency(served: Any, ms: float) -> None:
    """The vendor answers every API request ``ms`` later (the control channel's latency knob)."""
    import httpx

    inner = served._server.app

    def slow(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/"):
            time.sleep(ms / 1000)
        return inner(request)  # type: ignore[no-any-return]

    served._server.app = slow


def _print(out: dict[str, Any], args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(out, indent=2))
        return
    s, p = out["daily_sqlite"], out["daily_postgres"]
    print(f"daily run, {s['seats']:,} seats ({args.users:,} users), {s['candidates']:,} candidates")
    print(f"  SQLite      {s['wall']:7.2f} s   (floor)   {s['bytes'] / 2**20:6.1f} MiB on disk")
    print(
        f"  PostgreSQL  {p['wall']:7.2f} s   {p['wall'] / s['wall']:.2f}x SQLite"
        f"   {p['bytes'] / 2**20:6.1f} MiB ({p['bytes'] / s['bytes']:.2f}x)"
    )
    for step in s["jobs"]:
        print(
            f"    {step:<9} {s['jobs'][step]:6.2f} s / {p['jobs'].get(step, 0):6.2f} s"
            f"  {p['jobs'].get(step, 0) / max(s['jobs'][step], 1e-9):.2f}x"
        )
    print(
        f"  reconcile   {s['reconcile']:6.2f} s / {p['reconcile']:6.2f} s"
        f"  {p['reconcile'] / s['reconcile']:.2f}x SQLite (SQL aggregates on both)"
    )
    base = out["copy_sqlite_to_sqlite"]
    print(f"workspace copy, {base['rows']:,} rows")
    for name in ("copy_sqlite_to_sqlite", "copy_sqlite_to_postgres", "copy_postgres_to_sqlite"):
        c = out[name]
        label = name.removeprefix("copy_").replace("_", " ")
        print(
            f"  {label:<20} {c['seconds']:6.2f} s  {c['rows'] / c['seconds']:9,.0f} rows/s"
            f"  {c['seconds'] / base['seconds']:.2f}x the SQLite copy"
        )
    w = out["workers"]
    one = w["1"]
    print(
        f"workers, {args.profiles} profiles of 50 users, vendor latency {args.latency:g} ms/request"
    )
    for n, secs in w.items():
        print(f"  {n} worker(s)  {secs:6.2f} s  {one / secs:.2f}x the single worker (floor)")
    print(f"  measured {dt.datetime.now(dt.timezone.utc):%Y-%m-%d} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
