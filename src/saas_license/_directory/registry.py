"""Directory plugins: the built-in CSV directory and any installed under ``saas_license.directories``."""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from .._errors import ConfigError, SpokeError
from .._plugins import ENV_STRICT, PluginProblem, load_plugins, make_plugin_manager
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


class DirectoryRegistry:
    """The installed directory plugins; :meth:`open` asks each in turn for a source's people."""

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
    ) -> None:
        self.pm = make_plugin_manager()
        self._plugins: dict[str, object] = {}
        self.register(CsvDirectoryPlugin(), name="csv")
        if entry_points is None and load_entry_points:
            entry_points = importlib.metadata.entry_points(group=DIRECTORY_ENTRY_POINT_GROUP)
        self.problems: list[PluginProblem] = load_plugins(
            entry_points or (),
            kind="directory",
            register=lambda plugin, name: self.register(plugin, name=name),
            strict=os.environ.get(ENV_STRICT) == "1",
        )

    def __repr__(self) -> str:
        return f"DirectoryRegistry(names={self.names()!r})"

    def register(self, plugin: ModuleType | object, *, name: str) -> None:
        """Register a directory plugin object or module under ``name``."""
        if name in self._plugins:
            raise SpokeError(f"a directory plugin named {name!r} is already registered")
        self.pm.register(plugin, name=f"directory:{name}")
        self.pm.check_pending()
        self._plugins[name] = plugin

    def names(self) -> list[str]:
        """Names of the registered directory plugins, sorted."""
        return sorted(self._plugins)

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
