"""Shared CLI output: aligned tables for people, JSON for machines, errors on stderr."""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import attrs
import click

from .._convert import converter

__all__ = ["echo_json", "echo_table", "to_jsonable"]


def to_jsonable(value: Any) -> Any:
    """attrs records, enums, datetimes and Decimals → plain JSON values (Decimal as a string)."""
    if attrs.has(type(value)):
        return to_jsonable(converter.unstructure(value))
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return converter.unstructure(value)
    if isinstance(value, Decimal):
        return str(value)
    return value


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout."""
    click.echo(json.dumps(to_jsonable(value), indent=2, sort_keys=False))


def echo_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = "(none)"
) -> None:
    """Print an aligned plain-text table; numbers are right-aligned."""
    data = [["" if c is None else str(c) for c in row] for row in rows]
    if not data:
        click.echo(f"  {empty}")
        return
    widths = [max(len(h), *(len(r[i]) for r in data)) for i, h in enumerate(headers)]
    numeric = [
        all(r[i].replace(".", "", 1).replace("-", "", 1).isdigit() or r[i] == "" for r in data)
        for i in range(len(headers))
    ]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(w) if num else c.ljust(w)
            for c, w, num in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    click.echo("  " + fmt(headers))
    click.echo("  " + fmt(["-" * w for w in widths]))
    for r in data:
        click.echo("  " + fmt(r))
