"""Entry points of the installed distributions, read in one pass and kept while nothing changes.

``importlib.metadata.entry_points(group=…)`` reads every installed distribution's
``entry_points.txt`` again for each group (spokes, notifiers, directory sources: three scans a
run) and importing it costs a few milliseconds more. This reads each ``*.dist-info`` /
``*.egg-info`` directory on ``sys.path`` once, with importlib.metadata's rules (a distribution
found again later on the path is shadowed, names compared normalised), and keeps the result
until ``sys.path`` or one of its directories changes. Whatever it cannot read the same way (a
zip or ``.egg`` on the path, a meta-path finder with distributions of its own, a line it cannot
parse) is handed to importlib.metadata itself.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["EntryPointLike", "entry_points"]

_ENTRY_POINT = re.compile(
    r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$"
)


class EntryPointLike(Protocol):
    """What loading a plugin needs of an entry point (``importlib.metadata.EntryPoint`` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> str: ...

    def load(self) -> Any: ...


class _EntryPoint:
    """One entry point read from ``entry_points.txt``; :meth:`load` as importlib.metadata's."""

    __slots__ = ("group", "name", "value")

    def __init__(self, name: str, value: str, group: str) -> None:
        self.name, self.value, self.group = name, value, group

    def __repr__(self) -> str:
        return f"EntryPoint(name={self.name!r}, value={self.value!r}, group={self.group!r})"

    def load(self) -> Any:
        """Import the module the value names and return the attribute it names (if any)."""
        match = _ENTRY_POINT.match(self.value)
        if match is None:
            raise ValueError(f"entry point {self.name!r} has an unreadable value {self.value!r}")
        obj: Any = importlib.import_module(match.group("module"))
        for part in filter(None, (match.group("attr") or "").split(".")):
            obj = getattr(obj, part)
        return obj


class _Unreadable(Exception):
    """Something only importlib.metadata reads right: hand the whole scan to it."""


_cache: tuple[tuple[tuple[str, int], ...], dict[str, list[_EntryPoint]]] | None = None


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _stamp(paths: Sequence[str]) -> tuple[tuple[str, int], ...]:
    stamps = []
    for entry in paths:
        try:
            mtime = os.stat(entry or ".").st_mtime_ns
        except OSError:
            mtime = -1
        stamps.append((entry, mtime))
    return tuple(stamps)


def _parse(text: str, into: dict[str, list[_EntryPoint]]) -> None:
    """``[group]`` sections of ``name = value`` lines, as importlib.metadata reads them."""
    group = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            group = line.strip("[]")
            continue
        if group is None:
            continue
        name, sep, value = line.partition("=")
        if not sep:
            raise _Unreadable(line)
        into.setdefault(group, []).append(_EntryPoint(name.strip(), value.strip(), group))


def _scan(paths: Sequence[str]) -> dict[str, list[_EntryPoint]]:
    found: dict[str, list[_EntryPoint]] = {}
    seen: set[str] = set()
    for entry in paths:
        root = entry or "."
        if root.lower().endswith(".egg") or os.path.isfile(root):
            raise _Unreadable(root)
        try:
            children = os.listdir(root)
        except OSError:
            continue
        by_name: dict[str, list[str]] = {}  # importlib.metadata groups a directory by name
        for child in children:
            low = child.lower()
            if low.endswith((".dist-info", ".egg-info")):
                key = _normalize(low.rpartition(".")[0].partition("-")[0])
                by_name.setdefault(key, []).append(child)
        for children_of_name in by_name.values():
            for child in children_of_name:
                stem, ext = os.path.splitext(child)
                if ext not in (".dist-info", ".egg-info"):
                    raise _Unreadable(child)  # e.g. ``.DIST-INFO``: named from its metadata
                key = _normalize(stem.partition("-")[0])
                if key in seen:
                    continue
                seen.add(key)
                try:
                    with open(
                        os.path.join(root, child, "entry_points.txt"), encoding="utf-8"
                    ) as fh:
                        text = fh.read()
                except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
                    continue
                _parse(text, found)
    return found


def _from_importlib(group: str) -> list[EntryPointLike]:
    import importlib.metadata

    return list(importlib.metadata.entry_points(group=group))


def entry_points(group: str) -> list[EntryPointLike]:
    """The entry points registered under ``group``, in importlib.metadata's order."""
    global _cache
    if any(
        hasattr(finder, "find_distributions") and finder is not _path_finder()
        for finder in sys.meta_path
    ):
        return _from_importlib(group)
    stamp = _stamp(list(sys.path))
    if _cache is None or _cache[0] != stamp:
        try:
            _cache = (stamp, _scan([entry for entry, _ in stamp]))
        except (_Unreadable, UnicodeDecodeError):
            return _from_importlib(group)
    return list(_cache[1].get(group, ()))


def _path_finder() -> object:
    import importlib.machinery

    return importlib.machinery.PathFinder
