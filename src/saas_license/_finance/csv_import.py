"""Read entitlements from CSV: every bad row is reported with its line number, and a file with any
bad row yields nothing (the caller stores all rows in one transaction, or none).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._csvrows import CsvProblemsError, RowProblem, iter_csv_rows, problem_from, read_csv_text
from .._errors import ConfigError
from .entitlements import Entitlement

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


class CsvImportError(CsvProblemsError):
    """The entitlements CSV has bad rows; ``problems`` lists each one. Nothing was imported."""

    def __init__(self, source: str, problems: list[RowProblem]) -> None:
        super().__init__(source, problems, what="imported")


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
    name, text = read_csv_text(source, text)
    problems: list[RowProblem] = []
    out: list[Entitlement] = []
    for line, values in iter_csv_rows(
        name,
        text,
        columns=CSV_COLUMNS,
        required=REQUIRED,
        ignored=_IGNORED,
        problems=problems,
        error=CsvImportError,
        progress=progress,
    ):
        try:
            fields: dict[str, Any] = values  # text: the converters parse and check it
            ent = Entitlement(**fields)
            if check is not None:
                check(ent, out)
        except ConfigError as exc:
            problems.append(problem_from(exc, line=line, prefix="entitlement."))
            continue
        out.append(ent)
    if problems:
        raise CsvImportError(name, problems)
    return out
