"""Reading a user's CSV file: every bad line reported with its number, or nothing read at all.

Shared by the entitlements import and the CSV user directory, so both refuse the same things the
same way (unknown or repeated columns, missing required cells, ragged rows, binary files).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path

import attrs

from ._errors import ConfigError
from ._tables import uncsv_cell

__all__ = ["CsvProblemsError", "RowProblem", "iter_csv_rows", "problem_from", "read_csv_text"]


@attrs.frozen(kw_only=True)
class RowProblem:
    """What is wrong with one field of one line of the file."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


def problem_from(exc: ConfigError, *, line: int, prefix: str) -> RowProblem:
    """A record's validation error as the problem of one line (field without ``prefix``, hint kept)."""
    field = exc.field or "row"
    message = exc.message.removeprefix(f"{field}: ")
    if exc.hint:
        message = f"{message} — {exc.hint}"
    return RowProblem(line=line, field=field.removeprefix(prefix), message=message)


class CsvProblemsError(ConfigError):
    """The CSV has bad lines; ``problems`` lists each one. Nothing was read from it."""

    def __init__(self, source: str, problems: Sequence[RowProblem], *, what: str) -> None:
        shown = "; ".join(str(p) for p in problems[:20])
        more = f"; … and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(
            f"{source}: {len(problems)} problem(s), nothing {what}: {shown}{more}",
            field="csv",
            hint=f"fix the lines named and {what.removesuffix('ed')} the whole file again",
        )
        self.problems = tuple(problems)


def read_csv_text(source: str | Path, text: str | None = None) -> tuple[str, str]:
    """``(name, text)`` of a CSV given as a path, or as ``text`` named ``source``; refuses
    unreadable, non-UTF-8 and binary files with the fix."""
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
    return name, text.removeprefix("\ufeff")


def iter_csv_rows(
    name: str,
    text: str,
    *,
    columns: Sequence[str],
    required: Collection[str],
    problems: list[RowProblem],
    error: Callable[[str, list[RowProblem]], ConfigError],
    ignored: Collection[str] = (),
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield ``(line, {column: cell})`` for each non-blank row with every required cell filled
    (blank cells left out). Header problems raise ``error(name, problems)`` at once; row
    problems are appended to ``problems`` for the caller, which raises after the last row."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise error(
            name, [RowProblem(line=1, field="header", message="the file is empty")]
        ) from None
    except csv.Error as exc:
        raise error(name, [RowProblem(line=1, field="header", message=str(exc))]) from None
    head: list[RowProblem] = [
        RowProblem(
            line=1, field=column or "(blank)", message="unknown column; use " + ", ".join(columns)
        )
        for column in header
        if column not in columns and column not in ignored
    ]
    if len(set(header)) != len(header):
        head.append(RowProblem(line=1, field="header", message="a column appears twice"))
    head.extend(
        RowProblem(line=1, field=c, message="required column is missing")
        for c in required
        if c not in header
    )
    if head:
        raise error(name, head)

    last_line = reader.line_num
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(RowProblem(line=last_line + 1, field="row", message=str(exc)))
            return
        line, last_line = last_line + 1, reader.line_num
        if progress is not None and line % 1000 == 0:
            progress(line - 1)
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append(
                RowProblem(
                    line=line, field="row", message=f"{len(cells)} cells for {len(header)} columns"
                )
            )
            continue
        values = {
            k: uncsv_cell(v.strip())  # what our own `--csv` exports neutralised
            for k, v in zip(header, cells, strict=True)
            if k in columns and v.strip() != ""
        }
        missing = [c for c in required if c not in values]
        if missing:
            problems.extend(RowProblem(line=line, field=c, message="is empty") for c in missing)
            continue
        yield line, values
