"""Result tables for people, machines and notebooks: one shape, rendered as HTML, CSV, JSON or pandas.

Cells are str, int, bool, Decimal, date/datetime or None. Money stays Decimal in every form:
a string in JSON and CSV, a Decimal object in pandas (never a float).
"""

from __future__ import annotations

import csv
import datetime as dt
import enum
import html
import importlib
import io
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs

from ._time import format_instant

__all__ = ["FORMULA_PREFIXES", "Table", "cell_text", "csv_cell", "uncsv_cell"]

#: Cell starts a spreadsheet reads as a formula (OWASP "CSV injection"); such text cells are
#: written with a leading single quote.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value: Any) -> str:
    """One cell as text: '' for None, ISO for dates and instants, exact digits for Decimals."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, dt.datetime):
        return format_instant(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def csv_cell(value: Any) -> str:
    """One cell for a CSV file: :func:`cell_text`, with text that a spreadsheet would run as a
    formula (starting ``=``, ``+``, ``-``, ``@``, tab or CR) prefixed by ``'``. Numbers and
    dates are written as they are: they are never formulas, and ``-3`` must stay a number."""
    text = cell_text(value)
    if isinstance(value, (bool, int, float, Decimal, dt.date)) and not isinstance(value, enum.Enum):
        return text
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def uncsv_cell(text: str) -> str:
    """Undo :func:`csv_cell` when reading back a CSV file we wrote."""
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


def _json_cell(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return cell_text(value)


@attrs.frozen(kw_only=True)
class Table:
    """A named, titled grid of rows with fixed columns, and the instant its figures are as of."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]
    title: str = ""
    as_of: dt.datetime | None = None
    note: str = ""

    def __attrs_post_init__(self) -> None:
        for row in self.rows:
            if len(row) != len(self.columns):
                raise ValueError(
                    f"table {self.name}: a row has {len(row)} cells for {len(self.columns)} columns"
                )

    @classmethod
    def from_dicts(
        cls,
        name: str,
        columns: Sequence[str],
        rows: Sequence[Mapping[str, Any]],
        *,
        title: str = "",
        as_of: dt.datetime | None = None,
        note: str = "",
    ) -> Table:
        """Build a table from dict rows, taking ``columns`` in order."""
        return cls(
            name=name,
            columns=tuple(columns),
            rows=tuple(tuple(r.get(c) for c in columns) for r in rows),
            title=title,
            as_of=as_of,
            note=note,
        )

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for row in self.rows:
            yield dict(zip(self.columns, row, strict=True))

    def column(self, name: str) -> list[Any]:
        """All values of one column."""
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def to_records(self) -> list[dict[str, Any]]:
        """JSON-ready rows: Decimals and instants become strings, None stays null."""
        return [
            {c: _json_cell(v) for c, v in zip(self.columns, row, strict=True)} for row in self.rows
        ]

    def to_json_data(self) -> dict[str, Any]:
        """The table as one JSON object: name, title, as-of instant, columns and rows."""
        return {
            "name": self.name,
            "title": self.title,
            "as_of": None if self.as_of is None else format_instant(self.as_of),
            "columns": list(self.columns),
            "rows": self.to_records(),
        }

    def to_csv(self) -> str:
        """RFC 4180 CSV with a header row; an ``as_of`` column is added when the table has one.

        Text cells that a spreadsheet would run as a formula are neutralised (:func:`csv_cell`).
        """
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        # Python < 3.12 does not quote a bare CR, which would split the row: quote such rows
        quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
        with_as_of = self.as_of is not None and "as_of" not in self.columns
        writer.writerow([*(csv_cell(c) for c in self.columns), *(["as_of"] if with_as_of else [])])
        stamp = [csv_cell(self.as_of)] if with_as_of else []
        for row in self.rows:
            cells = [*(csv_cell(v) for v in row), *stamp]
            (quoted if any("\r" in c for c in cells) else writer).writerow(cells)
        return buf.getvalue()

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` of the rows (needs the ``pandas`` extra); money stays Decimal."""
        try:
            pandas = importlib.import_module("pandas")
        except ImportError:
            raise ImportError(
                "to_pandas() needs pandas: pip install 'saas-license[pandas]'"
            ) from None
        frame = pandas.DataFrame.from_records(
            [list(row) for row in self.rows], columns=list(self.columns)
        )
        for i, name in enumerate(self.columns):
            if any(isinstance(row[i], Decimal) for row in self.rows):
                frame[name] = pandas.Series([row[i] for row in self.rows], dtype=object)
        frame.attrs["name"] = self.name
        frame.attrs["as_of"] = self.as_of
        return frame

    def to_html(self, *, max_rows: int | None = None) -> str:
        """An HTML ``<table>`` (escaped), numbers right-aligned, with its as-of time in the caption."""
        shown = self.rows if max_rows is None else self.rows[:max_rows]
        numeric = [
            bool(self.rows)
            and all(
                (isinstance(r[i], (int, Decimal)) and not isinstance(r[i], bool)) or r[i] is None
                for r in self.rows
            )
            for i in range(len(self.columns))
        ]
        caption = html.escape(self.title or self.name)
        if self.as_of is not None:
            caption += (
                f' <small class="as-of">as of {html.escape(format_instant(self.as_of))}</small>'
            )
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = "".join(
            "<tr>"
            + "".join(
                f'<td class="num">{html.escape(cell_text(v))}</td>'
                if num
                else f"<td>{html.escape(cell_text(v))}</td>"
                for v, num in zip(row, numeric, strict=True)
            )
            + "</tr>"
            for row in shown
        )
        if not self.rows:
            body = f'<tr><td colspan="{len(self.columns)}" class="empty">(none)</td></tr>'
        more = ""
        if len(shown) < len(self.rows):
            more = f'<p class="more">… and {len(self.rows) - len(shown)} more rows</p>'
        note = f'<p class="note">{html.escape(self.note)}</p>' if self.note else ""
        return (
            f'<table class="saas-license" data-table="{html.escape(self.name)}">'
            f"<caption>{caption}</caption><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table>{more}{note}"
        )

    def _repr_html_(self) -> str:
        return self.to_html(max_rows=200)
