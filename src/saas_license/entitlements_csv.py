"""Read entitlements from CSV: every bad row is reported with its line number, and a file with any
bad row yields nothing (the caller stores all rows in one transaction, or none).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from .entitlements import Entitlement
from .errors import ConfigError
from .tables import uncsv_cell

__all__ = ["CSV_COLUMNS", "CsvImportError", "RowProblem", "read_entitlements_csv"]

#: Columns an entitlements CSV may have, in the order `entitlements list --csv` writes them.
CSV_COLUMNS = (
    "software_model",
    "purchased_rights",
    "unit_cost",
    "currency",
    "period",
    "start",
    "end",
    "profile",
    "name",
)
REQUIRED = ("software_model", "purchased_rights", "unit_cost", "currency", "start")
_IGNORED = frozenset({"id", "state", "retired_on", "as_of"})  # written by `list --csv`


@attrs.frozen(kw_only=True)
class RowProblem:
    """What is wrong with one field of one line of the file."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class CsvImportError(ConfigError):
    """The CSV has bad rows; ``problems`` lists each one. Nothing was imported."""

    def __init__(self, source: str, problems: list[RowProblem]) -> None:
        shown = "; ".join(str(p) for p in problems[:20])
        more = f"; … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(
            f"{source}: {len(problems)} problem(s), nothing imported: {shown}{more}",
            field="csv",
            hint="fix the lines named and import the whole file again",
        )
        self.problems = tuple(problems)


def _field_of(exc: ConfigError) -> tuple[str, str]:
    field = exc.field or "row"
    message = exc.message
    if message.startswith(f"{field}: "):
        message = message[len(field) + 2 :]
    if exc.hint:
        message = f"{message} — {exc.hint}"
    return field.removeprefix("entitlement."), message


def read_entitlements_csv(
    source: str | Path,
    *,
    text: str | None = None,
    check: Callable[[Entitlement, list[Entitlement]], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Entitlement]:
    """Parse an entitlements CSV (a path, or ``text`` named ``source``) into entitlements.

    ``check(entitlement, earlier_rows)`` may raise :class:`ConfigError` to refuse a row (an
    unknown model, a second currency…); its error is reported against that row's line.
    Raises :class:`CsvImportError` listing every problem when any row is bad. ``progress(n)``
    is called every 1,000 rows with the number of rows read so far. ``check`` must not look at
    every earlier row (that makes an import quadratic): see ``EntitlementChecker``.
    """
    name = str(source)
    if text is None:
        try:
            text = Path(source).read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ConfigError(f"cannot read {name}: {exc.strerror}", field="csv") from None
        except UnicodeDecodeError:
            raise ConfigError(
                f"{name} is not a UTF-8 text file (binary data?)",
                field="csv",
                hint="save the sheet as CSV UTF-8",
            ) from None
    if "\x00" in text:
        raise ConfigError(
            f"{name} holds NUL bytes: it is not a CSV text file",
            field="csv",
            hint="save the sheet as CSV UTF-8",
        )
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    problems: list[RowProblem] = []
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CsvImportError(
            name, [RowProblem(line=1, field="header", message="the file is empty")]
        ) from None
    except csv.Error as exc:
        raise CsvImportError(name, [RowProblem(line=1, field="header", message=str(exc))]) from None
    for column in header:
        if column not in CSV_COLUMNS and column not in _IGNORED:
            problems.append(
                RowProblem(
                    line=1,
                    field=column or "(blank)",
                    message="unknown column; use " + ", ".join(CSV_COLUMNS),
                )
            )
    if len(set(header)) != len(header):
        problems.append(RowProblem(line=1, field="header", message="a column appears twice"))
    problems.extend(
        RowProblem(line=1, field=c, message="required column is missing")
        for c in REQUIRED
        if c not in header
    )
    if problems:
        raise CsvImportError(name, problems)

    out: list[Entitlement] = []
    last_line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(RowProblem(line=last_line + 1, field="row", message=str(exc)))
            break
        line, last_line = last_line + 1, reader.line_num
        if progress is not None and line % 1000 == 0:
            progress(line - 1)
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(
                RowProblem(
                    line=line,
                    field="row",
                    message=f"{len(cells)} cells for {len(header)} columns",
                )
            )
            continue
        values: dict[str, Any] = {
            k: uncsv_cell(v.strip())  # what `entitlements list --csv` neutralised
            for k, v in zip(header, cells, strict=True)
            if k in CSV_COLUMNS and v.strip() != ""
        }
        missing = [c for c in REQUIRED if c not in values]
        if missing:
            problems.extend(RowProblem(line=line, field=c, message="is empty") for c in missing)
            continue
        try:
            ent = Entitlement(**values)  # the converters parse and check the text
            if check is not None:
                check(ent, out)
        except ConfigError as exc:
            field, message = _field_of(exc)
            problems.append(RowProblem(line=line, field=field, message=message))
            continue
        out.append(ent)
    if problems:
        raise CsvImportError(name, problems)
    return out
