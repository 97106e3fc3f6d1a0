"""The user directory of a workspace: load a snapshot, look people up, see who is unresolved."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from .._directory import DirectoryIndex, DirectoryRegistry, Person
from .._directory.facts import directory_of
from .._directory.resolution import DirectoryLoad, SeatResolution, resolve_seats
from .._time import format_instant
from ._change import changing

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["Directory"]


class Directory:
    """The user directory (``ws.directory``): who each seat's user is, their manager,
    department, cost centre and employment status."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._plugins: DirectoryRegistry | None = None  # loaded on first use

    @property
    def plugins(self) -> DirectoryRegistry:
        """Directory plugins (entry-point group ``saas_license.directories``) and the built-in
        CSV directory; ``register`` more by hand."""
        if self._plugins is None:
            self._plugins = DirectoryRegistry()
        return self._plugins

    def load(self, source: str | os.PathLike[str], *, actor: str = "user") -> DirectoryLoad:
        """Replace the stored directory with the people at ``source`` (a ``.csv`` path, or a
        source a directory plugin reads), atomically and audited with the counts.

        A bad source (unreadable, a bad or conflicting line, a plugin error) raises before
        anything is written: the directory stored before stays as it was.
        """
        text = str(Path(source)) if isinstance(source, Path) else os.fspath(source)
        index = self.plugins.open(text)
        people = list(index)
        addresses = sum(len(p.addresses) for p in people)
        store = self._ws.store
        with changing(self._ws, "directory.loaded", "directory", actor=actor) as change:
            before = store.directory_source()
            store.replace_directory(people, source=text, loaded_at=format_instant(self._ws.clock()))
            resolution = self._resolve(index, None)
            change.done(
                "directory",
                after={
                    "source": text,
                    "people": len(people),
                    "addresses": addresses,
                    "resolved_seats": resolution.resolved_seats,
                    "unresolved_seats": resolution.unresolved_seats,
                },
                detail=f"{len(people)} people from {text}"
                + (f" (replacing the directory from {before[0]})" if before else ""),
            )
        return DirectoryLoad(
            source=text, people=len(people), addresses=addresses, resolution=resolution
        )

    def people(self) -> list[Person]:
        """Every person of the stored directory, in the order they were loaded."""
        return self._ws.store.directory_people()

    def lookup(self, address: str) -> Person | None:
        """The person known by ``address`` (e-mail or alias, any case), or None."""
        return self._ws.store.find_person(address)

    def index(self) -> DirectoryIndex | None:
        """The stored directory as an in-memory index (None when no directory is loaded)."""
        return directory_of(self._ws.store)

    def source(self) -> tuple[str, str] | None:
        """(source, loaded at) of the stored directory, or None when none was loaded."""
        return self._ws.store.directory_source()

    def resolution(self, profile: str | None = None) -> SeatResolution:
        """Active seats (of ``profile``, or all) resolved to a person, and the unresolved users
        listed with their seats: an unknown user is shown, never matched by a guess."""
        if profile is not None:
            self._ws.profiles.get(profile)  # an unknown profile is an error, not "all resolved"
        return self._resolve(self.index(), profile)

    def _resolve(self, index: DirectoryIndex | None, profile: str | None) -> SeatResolution:
        seats = (
            (s.profile, s.user_principal_name) for s in self._ws.store.iter_subscriptions(profile)
        )
        return resolve_seats(seats, index, profile=profile)
