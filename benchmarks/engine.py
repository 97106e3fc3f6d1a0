"""``python -m benchmarks.engine``: the store and the evaluation at up to a million seats.

For each size, synthetic seats shaped like the Aha! spoke's (a user's seats share one attribute
dict; admins, disabled users, never-active and new accounts among them) go through the staged
download exactly as the pipeline does (stage, merge, close vanished, stamp activity) into a
fresh SQLite workspace, twice (the second time nothing changed), then one set-based
evaluation with exclusion rules of every kind, reclamation rules (one with a filter), grace,
cooldowns and open candidates, the new candidates stored, and the workspace checkpointed.

Printed per size, each with its floor measured in the same run:

- **ingest**: seats/s of stage + merge (which counts the activity as checked, as the pipeline
  has it for a spoke whose download carries last activity) + close + the activity step's
  count, against a bare ``executemany`` of the
  same rows into an empty table (generating the records is timed apart and left out);
- **re-ingest**: the same download again (the unchanged-seat fast path), against the first
  (both net of generating the records);
- **evaluate**: the whole profile's verdicts (and what they imply for open candidates),
  against a bare ``SELECT`` of the same rows read into Python (the floor), with the same rows
  scanned inside the engine (one row out) printed beside it for context; the first pass (which
  lists every new proposal) is timed too;
- **candidates stored**: the first pass's new candidates stored as a run stores them (5,000 a
  transaction, each with its audit entry), per candidate, against a bare ``executemany`` of the
  same candidate and audit rows into tables without indexes or triggers;
- **store**: bytes per seat of the workspace's files after a checkpoint (seats, shared
  attributes, indexes, candidates and their audit entries).

``--store postgresql`` (or ``both``) runs the same on a PostgreSQL workspace (a fresh schema on
the server of ``SAAS_LICENSE_TEST_POSTGRES_URL``/``..._OWNER_URL``, else a throwaway server
started by ``tests/postgres/server.py``), each floor measured on that same server: the ingest
floor is a ``COPY`` of the same rows into a table, the evaluation's floor the same bare
``SELECT`` (plain psycopg), bytes are ``pg_total_relation_size`` of the schema's tables. Both
stores also time a **reconciliation** (SQL aggregates) against the bare ``GROUP BY`` of the
active seats.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
DEPARTMENTS = ["Engineering", "Sales", "Marketing", "Support", "Finance", "Executive"]
ZONES = ["Europe/Berlin", "America/New_York", "UTC", "Asia/Tokyo"]


def _records(seats: int, seed: int = 1) -> Iterator[Any]:
    """About ``seats`` seats, deterministic for ``seed`` (so a second pass is the same download)."""
    from saas_license._subscriptions import SubscriptionRecord

    rng = random.Random(seed)
    shared: dict[tuple[Any, ...], dict[str, Any]] = {}
    made = n = 0
    while made < seats:
        n += 1
        admin = rng.random() < 0.03
        enabled = rng.random() > 0.02
        dept = rng.choice(DEPARTMENTS)
        zone = rng.choice(ZONES)
        key = (admin, enabled, dept, zone)
        attributes = shared.get(key)
        if attributes is None:  # what Aha! reports per user, built once per distinct user shape
            attributes = shared[key] = {
                "administrator": admin,
                "account_administrator": admin,
                "enabled": enabled,
                "paid_seat": True,
                "department": dept,
                "product_roles": ["Contributor"],
                "identity_provider": "saml",
                "timezone": zone,
            }
        domain = "contractor.example" if rng.random() < 0.05 else "example.com"
        user = f"svc-{n}" if rng.random() < 0.01 else f"user{n}"
        never = rng.random() < 0.1
        last = None if never else NOW - dt.timedelta(seconds=rng.randrange(0, 200 * 86_400))
        created = NOW - dt.timedelta(seconds=rng.randrange(0, 3 * 365 * 86_400))
        idents = ["aha.roadmaps"] + (["aha.develop"] if rng.random() < 0.17 else [])
        if rng.random() < 0.02:
            idents = ["aha.teamwork"]
        for ident in idents:
            made += 1
            yield SubscriptionRecord(
                external_user_id=str(n),
                user_principal_name=f"{user}@{domain}",
                identifier=ident,
                display_name=f"User {n}",
                last_activity=last,
                external_created=created,
                attributes=attributes,
            )


def _setup(store: Any) -> None:
    from saas_license import ExclusionRule, ReclamationRule, SoftwareModel

    for ident, model in (
        ("aha.roadmaps", "Aha! Roadmaps"),
        ("aha.develop", "Aha! Develop"),
        ("aha.teamwork", "Aha! Teamwork"),
    ):
        store.ensure_software_model(SoftwareModel(name=model, publisher="Aha!", paid=True))
        store.map_identifier(ident, model)
    store.save_reclamation_rule(ReclamationRule(software_model="Aha! Roadmaps"))
    store.save_reclamation_rule(
        ReclamationRule(software_model="Aha! Develop", filter={"department": "Engineering"})
    )
    store.save_reclamation_rule(ReclamationRule(software_model="Aha! Teamwork", inactivity_days=30))
    for rule in (
        ExclusionRule(kind="user", value="svc-*@example.com"),
        ExclusionRule(kind="domain", value="contractor.example"),
        ExclusionRule(kind="identifier", value="aha.teamwork", profile_type="aha", effect="cost"),
        ExclusionRule(kind="attribute", attribute="department", value="executive"),
    ):
        store.add_exclusion_rule(rule)


def _ingest(store: Any, seats: int, run_id: str, now: dt.datetime) -> tuple[float, int]:
    t0 = time.perf_counter()
    with store.stage_download("p", run_id=run_id) as stage:
        stage.add(_records(seats))
        stage.merge(now=now, activity_checked=True)  # as the pipeline does for Aha!
        stage.close_unseen()
    store.stamp_activity_checked("p", run_id=run_id, now=now)  # counts what the merge stamped
    return time.perf_counter() - t0, stage.staged


def _generate(seats: int) -> tuple[float, list[tuple[Any, ...]]]:
    from saas_license._store._sqlite.subscriptions import _stage_rows, _StageAttrs

    t0 = time.perf_counter()
    count = sum(1 for _ in _records(seats))
    gen = time.perf_counter() - t0
    rows: list[tuple[Any, ...]] = []
    batch: list[Any] = []
    pairs = _StageAttrs()
    for r in _records(seats):
        batch.append(r)
        if len(batch) == 2000:
            rows.extend(_stage_rows(batch, len(rows), pairs))
            batch = []
    rows.extend(_stage_rows(batch, len(rows), pairs))
    assert len(rows) == count
    return gen, rows


def _floor_insert(rows: list[tuple[Any, ...]]) -> float:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, a, b, c, d, e, f, g, h)")
    t0 = time.perf_counter()
    db.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    out = time.perf_counter() - t0
    db.close()
    return out


#: New candidates stored per write transaction (as ``_pipeline._CREATE_BATCH``).
CREATE_BATCH = 5000


def _floor_candidates(store: Any) -> float:
    """The floor of storing new candidates: the same candidate rows and audit rows, as
    stored, written by a bare ``executemany`` each into tables of the same columns (no index,
    no trigger, no Python per row) in a fresh file database, one commit."""
    rows = {
        table: store._db.execute(f"SELECT * FROM {table}").fetchall()
        for table in ("candidates", "audit_log")
    }
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        for table, found in rows.items():
            marks = ", ".join("?" * len(found[0]))
            db.execute(f"CREATE TABLE {table} ({', '.join(f'c{i}' for i in range(len(found[0])))})")
            rows[table] = [tuple(r) for r in found]
        t0 = time.perf_counter()
        db.execute("BEGIN")
        for table, found in rows.items():
            marks = ", ".join("?" * len(found[0]))
            db.executemany(f"INSERT INTO {table} VALUES ({marks})", found)
        db.execute("COMMIT")
        out = time.perf_counter() - t0
        db.close()
    return out


#: The evaluation's floor: the same rows read into Python (what a row-by-row evaluation needs).
FLOOR_SELECT_SQL = (
    "SELECT s.*, a.attributes, a.unknown FROM subscriptions s "
    "JOIN seat_attrs a ON a.id = s.attrs WHERE s.profile = ? AND s.active = 1"
)
#: Context beside it: the same rows and join scanned inside the engine, one row out.
FLOOR_SCAN_SQL = (
    "SELECT count(*), max(s.last_activity), max(a.unknown) FROM subscriptions s "
    "JOIN seat_attrs a ON a.id = s.attrs WHERE s.profile = ? AND s.active = 1"
)

#: The reconciliation's floor: the bare aggregate of the active seats (as benchmarks/reconcile.py).
RECONCILE_FLOOR_SQL = (
    "SELECT software_model, profile, count(*) FROM subscriptions WHERE active = 1 GROUP BY 1, 2"
)


class _Postgres:
    """The PostgreSQL server the ``--store postgresql`` figures use, and a schema per size."""

    def __init__(self) -> None:
        from .postgres import _server

        self.app, self.owner, self.started = _server()
        self.schemas: list[str] = []

    def open(self) -> Any:
        from saas_license._store._postgres import PostgresStore

        from .postgres import _schema

        app, owner = _schema(self.app, self.owner)
        store = PostgresStore(app, owner_url=owner)
        self.schemas.append(str(store._q("SELECT current_schema()").fetchone()[0]))
        return store

    def live_bytes(self, store: Any) -> int:
        """The schema's size after ``VACUUM FULL`` (by the owner): the live rows only, without
        the dead row versions the two downloads' updates left for (auto)vacuum to reuse."""
        import psycopg

        schema = str(store._q("SELECT current_schema()").fetchone()[0])
        with psycopg.connect(self.owner, autocommit=True) as conn:
            conn.execute(f"SET search_path = {schema}")
            tables = [
                r[0]
                for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
            ]
            for table in tables:
                conn.execute(f'VACUUM FULL "{table}"')
        return _pg_bytes(store)[0]

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.owner, autocommit=True) as conn:
            for name in self.schemas:
                conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        self.schemas.clear()

    def stop(self) -> None:
        if self.started:
            import sys

            sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
            from tests.postgres import server

            server.stop(self.started)


def _floor_copy(store: Any, rows: list[tuple[Any, ...]]) -> float:
    """PostgreSQL's ingest floor: the same rows ``COPY``-ed into a plain table on the server."""
    kinds = [
        "BIGINT" if any(isinstance(r[i], int) for r in rows[:1000]) else "TEXT"
        for i in range(len(rows[0]))
    ]
    cols = ", ".join(f"c{i} {k}" for i, k in enumerate(kinds))
    store._pg.raw.execute(f"CREATE TEMP TABLE floor_copy ({cols})")
    t0 = time.perf_counter()
    store._pg.copy_rows("pg_temp.floor_copy", rows)
    out = time.perf_counter() - t0
    store._pg.raw.execute("DROP TABLE pg_temp.floor_copy")
    return out


def _floor_select(store: Any, sql: str) -> int:
    """The rows of ``sql`` read into Python by the engine's plain driver (no store layer)."""
    if hasattr(store, "_pg"):
        with store._pg.raw.cursor() as cur:
            cur.execute(sql.replace("?", "%s"), ("p",))
            return sum(1 for _ in cur)
    return sum(1 for _ in store._db.execute(sql, ("p",)))


def _pg_bytes(store: Any) -> tuple[int, dict[str, int]]:
    """The workspace schema's size (tables with their indexes and TOAST), and per table."""
    parts = {
        str(name): int(b)
        for name, b in store._q(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r' ORDER BY 2 DESC"
        )
    }
    return sum(parts.values()), parts


def _reconcile(store: Any) -> tuple[float, float]:
    """The reconciliation (median of 3) and its floor (median of 3), on ``store``."""
    from saas_license._finance.from_store import reconcile_store

    runs, floors = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        store._db.execute(RECONCILE_FLOOR_SQL).fetchall()
        floors.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        reconcile_store(store, now=NOW + dt.timedelta(hours=2), timezone="UTC")
        runs.append(time.perf_counter() - t0)
    return sorted(runs)[1], sorted(floors)[1]


def measure(
    seats: int, postgres: _Postgres | None = None, *, finance_index: bool = True
) -> dict[str, Any]:
    """Every figure of one size (on PostgreSQL when ``postgres`` is given, else SQLite)."""
    from saas_license._candidates.workflow import CandidateWorkflow
    from saas_license._evaluation_sql import evaluate_profile
    from saas_license._store import SqliteStore

    gen, rows = _generate(seats)
    if postgres is None:
        floor_insert = _floor_insert(rows)
    else:
        probe = postgres.open()
        floor_insert = _floor_copy(probe, rows)
        probe.close()
    del rows
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ws.db"
        store = SqliteStore(path) if postgres is None else postgres.open()
        _setup(store)
        if not finance_index:  # to attribute the ingest's time (reconciliation's index)
            store._q("DROP INDEX IF EXISTS finance_active_seats")
        first, staged = _ingest(store, seats, "run1", NOW)
        again, _ = _ingest(store, seats, "run2", NOW + dt.timedelta(hours=1))
        total = store.count_subscriptions("p")["total"]

        kw: dict[str, Any] = dict(
            now=NOW + dt.timedelta(hours=2),
            profile_type="aha",
            exclusions=store.list_exclusion_rules(),
            rules=store.list_reclamation_rules(),
            integration_user_id="1",
        )
        t0 = time.perf_counter()
        ev = evaluate_profile(store, "p", **kw)  # first pass: proposes candidates
        evaluate_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        workflow = CandidateWorkflow(store, clock=lambda: NOW + dt.timedelta(hours=2))
        created = 0
        for seats in ev.proposed_seats(CREATE_BATCH):  # as a run stores them
            created += workflow.create_proposed(seats)
        store_candidates = time.perf_counter() - t0
        del ev
        floor_candidates = None if postgres is not None else _floor_candidates(store)

        evals, floors, scans = [], [], []
        for _ in range(3):  # the daily pass, open candidates in place: median of 3
            t0 = time.perf_counter()
            ev = evaluate_profile(store, "p", **kw)
            evals.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            bare = _floor_select(store, FLOOR_SELECT_SQL)
            floors.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _floor_select(store, FLOOR_SCAN_SQL)
            scans.append(time.perf_counter() - t0)
        evaluate = sorted(evals)[1]
        floor_select = sorted(floors)[1]
        floor_scan = sorted(scans)[1]
        verdicts = dict(ev.verdicts)
        reconcile, floor_reconcile = _reconcile(store)
        if postgres is not None:
            size, parts = _pg_bytes(store)
            live = postgres.live_bytes(store)
            store.close()
            postgres.drop()
        else:
            store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            try:  # bytes per table and index, where SQLite has the dbstat table
                parts = {
                    name: int(b)
                    for name, b in store._db.execute(
                        "SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
                    )
                }
            except sqlite3.DatabaseError:
                parts = {}
            store.close()
            size = sum(f.stat().st_size for f in Path(tmp).glob("ws.db*"))
            live = size
    return {
        "store": "sqlite" if postgres is None else "postgresql",
        "seats": total,
        "staged": staged,
        "generate_s": gen,
        "ingest_s": first,
        "ingest_rate": staged / first,
        "ingest_net_s": first - gen,
        "ingest_net_rate": staged / max(first - gen, 1e-9),
        "floor_insert_s": floor_insert,
        "reingest_s": again,
        "reingest_net_s": again - gen,
        "finance_index": finance_index,
        "evaluate_s": evaluate,
        "evaluate_runs": evals,
        "evaluate_first_s": evaluate_first,
        "floor_select_s": floor_select,
        "floor_scan_s": floor_scan,
        "floor_select_rows": bare,
        "candidates": created,
        "store_candidates_s": store_candidates,
        "floor_candidates_s": floor_candidates,
        "still_idle": ev.still_idle,
        "verdicts": verdicts,
        "reconcile_s": reconcile,
        "floor_reconcile_s": floor_reconcile,
        "bytes": size,
        "bytes_per_seat": size / max(total, 1),
        "live_bytes_per_seat": live / max(total, 1),
        "bytes_by_table": parts,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.engine", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--seats", type=int, default=1_000_000, help="The largest size.")
    parser.add_argument(
        "--growth",
        default="10000,100000",
        help="Smaller sizes for the growth table (comma-separated).",
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    parser.add_argument(
        "--no-finance-index",
        action="store_true",
        help="Drop the reconciliation's finance_active_seats index before ingesting (to "
        "attribute the ingest's time; the reconciliation then runs without it).",
    )
    parser.add_argument(
        "--store",
        choices=("sqlite", "postgresql", "both"),
        default="sqlite",
        help="The workspace's store (PostgreSQL: a fresh schema per size; see the docstring).",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.growth.split(",") if s.strip()] + [args.seats]
    kinds = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    by_store: dict[str, list[dict[str, Any]]] = {}
    postgres = _Postgres() if "postgresql" in kinds else None
    try:
        for kind in kinds:
            pg = postgres if kind == "postgresql" else None
            by_store[kind] = [
                measure(n, pg, finance_index=not args.no_finance_index) for n in sorted(set(sizes))
            ]
            if not args.json and len(kinds) > 1:  # each store's figures as soon as they exist
                print(f"== {kind}")
                _print(by_store[kind], flush=True)
    finally:
        if postgres is not None:
            postgres.stop()
    if args.json:
        print(json.dumps(by_store if len(kinds) > 1 else by_store[kinds[0]], indent=2))
        return 0
    if len(kinds) == 1:
        _print(by_store[kinds[0]])
    if len(kinds) > 1:
        s, p = by_store["sqlite"][-1], by_store["postgresql"][-1]
        print(
            f"PostgreSQL / SQLite at {s['seats']:,} seats: ingest "
            f"{p['ingest_net_s'] / s['ingest_net_s']:.2f}x, evaluate "
            f"{p['evaluate_s'] / s['evaluate_s']:.2f}x, reconcile "
            f"{p['reconcile_s'] / s['reconcile_s']:.2f}x, bytes/seat "
            f"{p['bytes_per_seat'] / s['bytes_per_seat']:.2f}x"
        )
    return 0


def _print(rows: list[dict[str, Any]], *, flush: bool = False) -> None:
    floor = "COPY floor" if rows[0]["store"] == "postgresql" else "floor"
    print(
        f"seats      ingest, net (rate; {floor})       re-ingest, net  evaluate (floor; ratio)     candidates stored   bytes/seat"
    )
    for r in rows:
        print(
            f"{r['seats']:>9,}  {r['ingest_net_s']:6.2f}s ({r['ingest_net_rate']:>9,.0f}/s; "
            f"{r['floor_insert_s']:.2f}s, {r['ingest_net_s'] / r['floor_insert_s']:4.1f}x)  "
            f"{r['reingest_net_s']:6.2f}s ({r['reingest_net_s'] / r['ingest_net_s']:.2f}x)  "
            f"{r['evaluate_s']:6.3f}s ({r['floor_select_s']:.3f}s; {r['evaluate_s'] / r['floor_select_s']:.2f}x)  "
            f"{r['candidates']:>8,} in {r['store_candidates_s']:5.2f}s  "
            f"{r['bytes_per_seat']:7.0f}"
        )
    a, b = rows[0], rows[-1]
    if len(rows) > 1:
        grow = b["seats"] / a["seats"]
        print(
            f"growth {a['seats']:,} -> {b['seats']:,} seats ({grow:.0f}x): ingest "
            f"{b['ingest_s'] / a['ingest_s']:.0f}x, evaluate {b['evaluate_s'] / a['evaluate_s']:.0f}x, "
            f"store {b['bytes'] / a['bytes']:.0f}x"
        )
    print(
        f"targets at {b['seats']:,} seats: ingest >= 100,000/s: {b['ingest_net_rate']:,.0f}/s "
        f"(generating the records, timed apart: {b['generate_s']:.2f}s); "
        f"evaluate <= 3 s and <= 4x the floor: {b['evaluate_s']:.2f}s, "
        f"{b['evaluate_s'] / b['floor_select_s']:.2f}x; store <= 400 B/seat: {b['bytes_per_seat']:.0f}"
    )
    print(
        f"evaluate at {b['seats']:,} seats: daily pass {b['evaluate_s']:.3f}s "
        f"(runs {', '.join(f'{t:.2f}' for t in b['evaluate_runs'])}); floors in the same run: "
        f"SELECT into Python {b['floor_select_s']:.3f}s ({b['evaluate_s'] / b['floor_select_s']:.2f}x), "
        f"the same rows scanned in SQL {b['floor_scan_s']:.3f}s "
        f"({b['evaluate_s'] / b['floor_scan_s']:.1f}x); first pass (lists "
        f"{b['candidates']:,} new proposals) {b['evaluate_first_s']:.3f}s"
    )
    per = b["store_candidates_s"] / max(b["candidates"], 1) * 1e6
    floor_c = b["floor_candidates_s"]
    print(
        f"candidates stored at {b['seats']:,} seats: {b['candidates']:,} in "
        f"{b['store_candidates_s']:.2f}s, {per:.1f} us each"
        + (
            ""
            if floor_c is None
            else f" (floor: a bare executemany of the same candidate and audit rows "
            f"{floor_c / max(b['candidates'], 1) * 1e6:.1f} us each; "
            f"{b['store_candidates_s'] / floor_c:.1f}x)"
        )
    )
    print(
        f"reconcile at {b['seats']:,} seats: {b['reconcile_s']:.3f}s (floor "
        f"{b['floor_reconcile_s']:.3f}s; {b['reconcile_s'] / b['floor_reconcile_s']:.2f}x)"
    )
    if b["store"] == "postgresql":
        print(f"bytes per seat after VACUUM FULL (live rows only): {b['live_bytes_per_seat']:.0f}")
    if not b["finance_index"]:
        print("(ingested without the finance_active_seats index: --no-finance-index)")
    print("verdicts at the largest size:", json.dumps(b["verdicts"], sort_keys=True))
    if b["bytes_by_table"]:
        print(
            "bytes per seat by table/index at the largest size: "
            + ", ".join(
                f"{k} {v / b['seats']:.0f}"
                for k, v in b["bytes_by_table"].items()
                if v / b["seats"] >= 1
            ),
            flush=flush,
        )


if __name__ == "__main__":
    raise SystemExit(main())
