"""The user directory on SQLite: a snapshot of people, replaced whole, looked up by any address.

Implements :class:`~saas_license._store._protocol.DirectoryStore`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from ..._convert import converter
from ..._directory.records import Person, normalise_email
from .base import SqliteBaseStore, _dumps

__all__ = ["SqliteDirectoryStore"]

_SOURCE = "directory.source"
_LOADED_AT = "directory.loaded_at"


def _person(data: str) -> Person:
    return converter.structure(json.loads(data), Person)


class SqliteDirectoryStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.DirectoryStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    def replace_directory(self, people: Iterable[Person], *, source: str, loaded_at: str) -> int:
        """Replace the stored directory with ``people`` in one transaction; returns how many.

        The caller has checked the people (no address twice); a clash still fails the whole
        transaction, leaving the previous directory as it was.
        """
        count = 0
        with self.transaction():
            self._q("DELETE FROM directory_addresses")
            self._q("DELETE FROM directory_people")
            for person in people:
                cur = self._q(
                    "INSERT INTO directory_people (email, data) VALUES (?, ?)",
                    (person.email, _dumps(converter.unstructure(person))),
                )
                self._db.executemany(
                    "INSERT INTO directory_addresses (address, person_id) VALUES (?, ?)",
                    [(a, cur.lastrowid) for a in person.addresses],
                )
                count += 1
            self.set_meta(_SOURCE, source)
            self.set_meta(_LOADED_AT, loaded_at)
        return count

    def directory_people(self) -> list[Person]:
        """Every person of the stored directory, in the order they were loaded."""
        return [
            _person(r["data"]) for r in self._q("SELECT data FROM directory_people ORDER BY id")
        ]

    def find_person(self, address: str) -> Person | None:
        """The person known by ``address`` (e-mail or alias, any case), or None."""
        row = self._q(
            "SELECT p.data FROM directory_addresses a JOIN directory_people p ON p.id = a.person_id "
            "WHERE a.address = ?",
            (normalise_email(address),),
        ).fetchone()
        return None if row is None else _person(row["data"])

    def directory_source(self) -> tuple[str, str] | None:
        """(source, loaded_at) of the stored directory, or None when none was ever loaded."""
        source, loaded_at = self.get_meta(_SOURCE), self.get_meta(_LOADED_AT)
        if source is None or loaded_at is None:
            return None
        return source, loaded_at
