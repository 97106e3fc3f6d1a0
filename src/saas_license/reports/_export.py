"""Write a reconciliation's tables to files: one JSON document, or one CSV per table."""

from __future__ import annotations

import json
import os
from pathlib import Path

from .._finance.reconciliation import Reconciliation

__all__ = ["write_csv", "write_json"]


def write_json(result: Reconciliation, path: str | os.PathLike[str]) -> Path:
    """Write every table (and the as-of time) as one JSON document; returns the path."""
    target = Path(path)
    target.write_text(json.dumps(result.to_json_data(), indent=2) + "\n", encoding="utf-8")
    return target


def write_csv(result: Reconciliation, directory: str | os.PathLike[str]) -> list[Path]:
    """Write each table to ``<directory>/<table>.csv`` (created if needed); returns the paths."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in result.tables().items():
        path = target / f"{name}.csv"
        path.write_text(table.to_csv(), encoding="utf-8", newline="")
        written.append(path)
    return written
