"""The built-in directory: a CSV file of people, one per line, every problem named by its line."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .._csvrows import RowProblem, iter_csv_rows, problem_from, read_csv_text
from .._errors import ConfigError
from .errors import DirectoryError
from .index import DirectoryIndex
from .records import Person

__all__ = ["DIRECTORY_COLUMNS", "DirectoryError", "read_directory_csv"]

#: The columns a directory CSV may have; only ``email`` is required.
DIRECTORY_COLUMNS = (
    "email",
    "aliases",
    "name",
    "manager_email",
    "department",
    "cost_center",
    "employment_status",
)


def _split_aliases(cell: str) -> tuple[str, ...]:
    """Aliases are separated by ``;`` or white space (a comma would need quoting in CSV)."""
    return tuple(a for a in cell.replace(";", " ").split() if a)


def read_directory_csv(source: str | Path, *, text: str | None = None) -> DirectoryIndex:
    """Read a directory CSV (a path, or ``text`` named ``source``) into an index of people.

    Raises :class:`DirectoryError` naming every bad line, including an address (e-mail or alias)
    claimed by two lines, with both line numbers: such a file is refused, never half-read.
    """
    name, text = read_csv_text(source, text)
    problems: list[RowProblem] = []
    people: list[tuple[Person, str]] = []
    for line, values in iter_csv_rows(
        name,
        text,
        columns=DIRECTORY_COLUMNS,
        required=("email",),
        problems=problems,
        error=DirectoryError,
    ):
        try:
            person = Person(
                email=values["email"],
                aliases=_split_aliases(values.get("aliases", "")),
                name=values.get("name", ""),
                manager_email=values.get("manager_email"),
                department=values.get("department"),
                cost_center=values.get("cost_center"),
                employment_status=values.get("employment_status"),
            )
        except ConfigError as exc:
            problems.append(problem_from(exc, line=line, prefix="person."))
            continue
        people.append((person, f"line {line}"))
    index = DirectoryIndex()
    problems.extend(_conflicts(index, people))
    if problems:
        raise DirectoryError(name, sorted(problems, key=lambda p: p.line))
    return index


def _conflicts(index: DirectoryIndex, people: Iterable[tuple[Person, str]]) -> list[RowProblem]:
    """Add each person; an address already taken is a problem on the later line."""
    out: list[RowProblem] = []
    for person, origin in people:
        clash = index.add(person, origin=origin)
        if clash is not None:
            address, other = clash
            out.append(
                RowProblem(
                    line=int(origin.removeprefix("line ")),
                    field="email" if address == person.addresses[0] else "aliases",
                    message=f"{address} is already used on {other}; an address belongs to one person",
                )
            )
    return out
