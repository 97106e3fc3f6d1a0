"""The error a directory that cannot be loaded raises."""

from __future__ import annotations

from .._csvrows import CsvProblemsError, RowProblem

__all__ = ["DirectoryError"]


class DirectoryError(CsvProblemsError):
    """The directory has bad or conflicting entries; ``problems`` lists each one (by line for a
    CSV, by position for a plugin's list). Nothing was loaded."""

    def __init__(self, source: str, problems: list[RowProblem]) -> None:
        super().__init__(source, problems, what="loaded")
