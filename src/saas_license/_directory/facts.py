"""Seats seen with their person's facts: the ``directory.*`` attributes rules, approvers and
showback read, added to a seat's own attributes (which they never overwrite)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import attrs

from .records import Person

if TYPE_CHECKING:
    from .index import DirectoryIndex

__all__ = [
    "LEAVER",
    "PeopleSource",
    "directory_of",
    "manager_address",
    "reclaim_priority",
    "seat_facts",
    "with_directory",
    "with_person",
]

#: The employment status whose seats are proposed (and planned) first.
LEAVER = "leaver"

S = TypeVar("S")


class PeopleSource(Protocol):
    """A store that may hold a directory (every store with the ``DirectoryStore`` role)."""

    def directory_people(self) -> list[Person]: ...


def directory_of(store: object) -> DirectoryIndex | None:
    """The store's directory as an index, or None when the store has no directory (or it is empty)."""
    people = getattr(store, "directory_people", None)
    if people is None:
        return None
    found = people()
    if not found:
        return None
    from .index import DirectoryIndex  # with the CSV checks: only a workspace with a directory

    return DirectoryIndex(found)


def seat_facts(attributes: Mapping[str, Any], person: Person | None) -> dict[str, Any]:
    """``attributes`` with the person's ``directory.*`` facts added (a seat's own values win)."""
    if person is None:
        return dict(attributes)
    return {**person.facts(), **attributes}


def with_person(seat: S, person: Person | None) -> S:
    """The seat (any attrs record with ``attributes``) with its person's facts, or itself."""
    if person is None:
        return seat
    return attrs.evolve(seat, attributes=seat_facts(seat.attributes, person))  # type: ignore[attr-defined,misc]


def with_directory(seats: Iterable[S], index: DirectoryIndex | None) -> Iterator[S]:
    """Each seat with its person's facts, found by its user principal name; unchanged when
    ``index`` is None or the seat's user is not in the directory (never guessed)."""
    for seat in seats:
        if index is None:
            yield seat
        else:
            yield with_person(seat, index.lookup(seat.user_principal_name))  # type: ignore[attr-defined]


def manager_address(attributes: Mapping[str, Any]) -> Any:
    """The seat's manager: the directory's ``manager_email``, else the vendor's ``manager``
    attribute (None when neither is set)."""
    return attributes.get("directory.manager_email") or attributes.get("manager")


def reclaim_priority(attributes: Mapping[str, Any]) -> int:
    """0 for a leaver's seat (proposed and planned first), 1 for every other seat."""
    return 0 if attributes.get("directory.employment_status") == LEAVER else 1
