"""Shared CLI output: aligned tables for people, JSON for machines, errors on stderr."""

from __future__ import annotations

import datetime as dt
import enum
import json
import unicodedata
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import attrs
import click

from .._convert import converter

__all__ = [
    "DEFAULT_LIMIT",
    "echo_json",
    "echo_stream_table",
    "echo_table",
    "limit_options",
    "safe",
    "to_jsonable",
]

#: Rows a table shows on a terminal unless ``--limit N`` or ``--all`` says otherwise; ``--json``
#: and ``--csv`` are always complete.
DEFAULT_LIMIT = 50


def safe(text: str) -> str:
    """``text`` with control, escape and invisible formatting characters (from vendor data: a
    name holding ``\x1b[2J``…) shown as visible escapes, so they cannot drive the terminal."""
    if text.isprintable():
        return text
    return "".join(
        ch
        if ch == " " or unicodedata.category(ch) not in _UNSAFE
        else (f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}")
        for ch in text
    )


_UNSAFE = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs"})


def limit_options(func: Any) -> Any:
    """``--limit N`` and ``--all`` for commands that print long tables on a terminal."""
    func = click.option(
        "--all",
        "show_all_rows",
        is_flag=True,
        help="Print every row (same as --limit 0; JSON and CSV are always complete).",
    )(func)
    return click.option(
        "--limit",
        type=click.IntRange(0, None),
        default=DEFAULT_LIMIT,
        show_default=True,
        help="Rows to print on a terminal (0 = every row); the rest are counted.",
    )(func)


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
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    empty: str = "(none)",
    limit: int | None = None,
    more: str = "--limit N, --all or --json",
) -> None:
    """Print an aligned plain-text table (numbers right-aligned, cells made :func:`safe`); with
    ``limit``, only the first rows and a count of the others ("… and 1,550 more")."""
    all_rows = rows if isinstance(rows, Sequence) else list(rows)
    total = len(all_rows)
    shown = all_rows if limit is None or total <= limit else all_rows[:limit]
    data = [["" if c is None else safe(str(c)) for c in row] for row in shown]
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
    if total > len(data):
        click.echo(f"  … and {total - len(data):,} more of {total:,} (see all: {more})")


def echo_stream_table(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], *, empty: str = "(none)", page: int = 500
) -> tuple[int, Any]:
    """Print rows as they come, aligned a page at a time (never holding them all); returns how
    many were printed and the first cell of the last one (the cursor for the next page)."""
    printed, last = 0, None
    batch: list[list[str]] = []
    widths: list[int] | None = None

    def flush() -> None:
        nonlocal widths
        if not batch:
            return
        if widths is None:
            widths = [max(len(h), *(len(r[i]) for r in batch)) for i, h in enumerate(headers)]
            click.echo("  " + _fmt(headers, widths))
            click.echo("  " + _fmt(["-" * w for w in widths], widths))
        for r in batch:
            click.echo("  " + _fmt(r, widths))
        batch.clear()

    for row in rows:
        batch.append(["" if c is None else safe(str(c)) for c in row])
        printed, last = printed + 1, row[0]
        if len(batch) >= page:
            flush()
    flush()
    if not printed:
        click.echo(f"  {empty}")
    return printed, last


def _fmt(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(
        c.rjust(w) if c.replace(".", "", 1).replace("-", "", 1).isdigit() else c.ljust(w)
        for c, w in zip(cells, widths, strict=True)
    ).rstrip()
