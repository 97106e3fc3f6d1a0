"""Removal candidates and their audit entries: time to store them, and bytes each takes.

    python -m benchmarks.records --sizes 10000,100000

For each size: an estate of that many seats (``benchmarks.engine``'s synthetic Aha!-shaped
seats and rules), evaluated once in SQL; then every proposal is stored the way the daily run
stores it, ``CandidateWorkflow.create_many`` in batches of 500 (each candidate and its
``candidate.created`` audit entry, the chain hashed), timed (wall and CPU). Floor, measured in
the same run: a bare ``executemany`` of the same number of already-built rows of the same widths
(20 values a candidate, 14 an audit entry) into two index-less tables of a new file, committed
once per batch. Then the file is checkpointed and SQLite's ``dbstat`` gives the bytes of the
candidates and the audit log (tables and their indexes) per candidate and per entry.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.engine import NOW, _ingest, _setup

BATCH = 500


def _floor(n: int, tmp: Path) -> float:
    """Writing ``n`` candidate rows and ``n`` audit rows, built beforehand, in batches."""
    db = sqlite3.connect(tmp / "floor.db", isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute(
        "CREATE TABLE c (id INTEGER PRIMARY KEY" + "".join(f", x{i}" for i in range(19)) + ")"
    )
    db.execute(
        "CREATE TABLE a (id INTEGER PRIMARY KEY" + "".join(f", x{i}" for i in range(13)) + ")"
    )
    crow = [(i, i, "p", "ready", 1_781_000_000_000, None, None, None, None,
             f"user{i}@example.com", 1, 120, 1_771_000_000_000, 1, "\x1f60", 2, 3, None, None,
             None) for i in range(1, n + 1)]  # fmt: skip
    arow = [(i, "2026-06-15T14:00:00.000Z", "system", "candidate.created", "candidate", str(i),
             "p", None, '{"inactive_days":120,"state":"ready","subscription_id":1}',
             "no activity for 120 days (rule: 60 days)", "profile:p", i, b"\0" * 32, b"\1" * 32)
            for i in range(1, n + 1)]  # fmt: skip
    t0 = time.perf_counter()
    for start in range(0, n, BATCH):
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO c VALUES (" + ", ".join("?" * 20) + ")", crow[start : start + BATCH]
        )
        db.executemany(
            "INSERT INTO a VALUES (" + ", ".join("?" * 14) + ")", arow[start : start + BATCH]
        )
        db.execute("COMMIT")
    out = time.perf_counter() - t0
    db.close()
    return out


def _bytes(db: sqlite3.Connection) -> dict[str, int]:
    """Bytes per table and index (``dbstat``), or nothing where SQLite lacks it."""
    try:
        return {
            str(name): int(size)
            for name, size in db.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
        }
    except sqlite3.DatabaseError:
        return {}


def _owner(db: sqlite3.Connection) -> dict[str, str]:
    """Each table's and index's table."""
    return {str(n): str(t) for n, t in db.execute("SELECT name, tbl_name FROM sqlite_master")}


def measure(seats: int) -> dict[str, Any]:
    """Every figure of one size."""
    from saas_license._candidates.workflow import CandidateWorkflow
    from saas_license._evaluation_sql import evaluate_profile
    from saas_license._store import SqliteStore

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        store = SqliteStore(tmp / "ws.db")
        _setup(store)
        _ingest(store, seats, "run1", NOW)
        now = NOW + dt.timedelta(hours=2)
        ev = evaluate_profile(
            store,
            "p",
            now=now,
            profile_type="aha",
            exclusions=store.list_exclusion_rules(),
            rules=store.list_reclamation_rules(),
            integration_user_id="1",
        )
        batches = [list(b) for b in ev.proposals(BATCH)]
        del ev
        workflow = CandidateWorkflow(store, clock=lambda: now)
        audit_before = store._db.execute("SELECT count(*) FROM audit_log").fetchone()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        created = sum(len(workflow.create_many(b)) for b in batches)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        entries = store._db.execute("SELECT count(*) FROM audit_log").fetchone()[0] - audit_before
        verified = store.verify_audit()
        store._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        parts, owner = _bytes(store._db), _owner(store._db)
        store.close()
        floor = _floor(created, tmp)

    def of(table: str, *, index: bool) -> int:
        return sum(
            size
            for part, size in parts.items()
            if owner.get(part) == table and (part != table) == index
        )

    texts = of("candidate_texts", index=False) + of("candidate_texts", index=True)
    return {
        "seats": seats,
        "candidates": created,
        "audit_entries": entries,
        "audit_ok": verified.ok,
        "wall_s": wall,
        "cpu_s": cpu,
        "per_candidate_us": wall / max(created, 1) * 1e6,
        "cpu_per_candidate_us": cpu / max(created, 1) * 1e6,
        "rate": created / wall,
        "floor_s": floor,
        "candidate_bytes": (of("candidates", index=False) + texts) / max(created, 1),
        "candidate_index_bytes": of("candidates", index=True) / max(created, 1),
        "audit_bytes": of("audit_log", index=False) / max(entries, 1),
        "audit_index_bytes": of("audit_log", index=True) / max(entries, 1),
        "bytes_by_part": dict(sorted(parts.items(), key=lambda kv: -kv[1])),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.records", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", default="10000,100000", help="Seats (comma-separated).")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
    args = parser.parse_args(argv)
    rows = [measure(int(s)) for s in args.sizes.split(",") if s.strip()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(
        "seats      candidates  create_many (wall; cpu per candidate)   rate/s   floor (ratio)"
        "     B/candidate (+index)   B/audit entry (+index)  chain"
    )
    for r in rows:
        print(
            f"{r['seats']:>9,}  {r['candidates']:>9,}  {r['wall_s']:6.2f}s "
            f"({r['per_candidate_us']:5.1f} us; cpu {r['cpu_per_candidate_us']:5.1f} us)  "
            f"{r['rate']:>9,.0f}  {r['floor_s']:5.2f}s ({r['wall_s'] / r['floor_s']:4.1f}x)  "
            f"{r['candidate_bytes']:8.0f} (+{r['candidate_index_bytes']:3.0f})  "
            f"{r['audit_bytes']:14.0f} (+{r['audit_index_bytes']:3.0f})  "
            f"{'verified' if r['audit_ok'] else 'BROKEN'}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
