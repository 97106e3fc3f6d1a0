"""Directory plugins: the built-in CSV directory and any installed under ``saas_license.directories``."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .._entry_points import EntryPointLike
from .._errors import ConfigError, SpokeError
from .._plugins import NamedPlugins
from ..hookspecs import hookimpl
from .csv_source import read_directory_csv
from .index import DirectoryIndex
from .records import Person

__all__ = ["DIRECTORY_ENTRY_POINT_GROUP", "CsvDirectoryPlugin", "DirectoryRegistry"]

DIRECTORY_ENTRY_POINT_GROUP = "saas_license.directories"


class CsvDirectoryPlugin:
    """The built-in directory: a CSV file (see :data:`DIRECTORY_COLUMNS`)."""

    @hookimpl
    def saas_license_directory_people(self, source: str) -> Iterable[Person] | None:
        path = source.removeprefix("csv:")
        if not (source.startswith("csv:") or path.lower().endswith(".csv")):
            return None
        return read_directory_csv(Path(path))


class DirectoryRegistry(NamedPlugins):
    """The installed directory plugins; :meth:`open` asks each in turn for a source's people."""

    kind = "directory plugin"
    group = DIRECTORY_ENTRY_POINT_GROUP

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        entry_points: Iterable[EntryPointLike] | None = None,
    ) -> None:
        super().__init__(
            load_entry_points=load_entry_points,
            entry_points=entry_points,
            builtins={"csv": CsvDirectoryPlugin()},
        )

    def open(self, source: str) -> DirectoryIndex:
        """The people at ``source``, indexed; a source no plugin answers for is bad input."""
        people = self.pm.hook.saas_license_directory_people(source=source)
        if people is None:
            raise ConfigError(
                f"no directory plugin reads {source!r}",
                field="directory",
                hint="give a .csv file, or install a directory plugin for it (installed: "
                + ", ".join(self.names())
                + ")",
            )
        if isinstance(people, DirectoryIndex):
            return people
        return DirectoryIndex(_checked(people, source))


def _checked(people: Iterable[object], source: str) -> Iterable[Person]:
    for n, person in enumerate(people, start=1):
        if not isinstance(person, Person):
            raise SpokeError(
                f"the directory plugin for {source!r} yielded {type(person).__name__} as entry {n}, "
                "not a Person"
            )
        yield person
