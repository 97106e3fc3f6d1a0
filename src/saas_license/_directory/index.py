"""Looking people up by any of their addresses, case-insensitively, and listing who is unknown."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from .._csvrows import RowProblem
from .errors import DirectoryError
from .records import Person, normalise_email

__all__ = ["DirectoryIndex", "Resolution"]


@attrs.frozen(kw_only=True)
class Resolution:
    """The outcome of resolving addresses: who each known one is, and the unknown ones (never guessed)."""

    people: dict[str, Person]
    unresolved: tuple[str, ...]

    @property
    def resolved_share(self) -> float:
        """Resolved addresses over all addresses given (1.0 when none were given)."""
        total = len(self.people) + len(self.unresolved)
        return len(self.people) / total if total else 1.0


class DirectoryIndex:
    """People indexed by every address they are known by (e-mail and aliases)."""

    def __init__(self, people: Iterable[Person] = ()) -> None:
        self._by_address: dict[str, tuple[Person, str]] = {}
        self._people: list[Person] = []
        for n, person in enumerate(people, start=1):
            clash = self.add(person, origin=f"person {n}")
            if clash is not None:
                address, other = clash
                raise DirectoryError(
                    "directory",
                    [
                        RowProblem(
                            line=n,
                            field="email",
                            message=f"{address} is already used by {other}",
                        )
                    ],
                )

    def __len__(self) -> int:
        return len(self._people)

    def __iter__(self) -> Iterator[Person]:
        return iter(self._people)

    def __repr__(self) -> str:
        return f"DirectoryIndex({len(self._people)} people)"

    def add(self, person: Person, *, origin: str) -> tuple[str, str] | None:
        """Index ``person``; returns ``(address, origin of its holder)`` instead when one of their
        addresses is already taken (the person is then not added)."""
        for address in person.addresses:
            held = self._by_address.get(address)
            if held is not None:
                return address, held[1]
        for address in person.addresses:
            self._by_address[address] = (person, origin)
        self._people.append(person)
        return None

    def lookup(self, address: str) -> Person | None:
        """The person known by ``address`` (e-mail or alias, any case), or None."""
        held = self._by_address.get(normalise_email(address))
        return held[0] if held else None

    def resolve(self, addresses: Iterable[str]) -> Resolution:
        """Resolve each distinct address; unknown ones are listed, sorted, not guessed."""
        people: dict[str, Person] = {}
        unresolved: set[str] = set()
        for address in addresses:
            person = self.lookup(address)
            if person is None:
                unresolved.add(address)
            else:
                people[address] = person
        return Resolution(people=people, unresolved=tuple(sorted(unresolved)))

    def manager_of(self, address: str) -> Person | None:
        """The manager of the person known by ``address``, when both are in the directory."""
        person = self.lookup(address)
        if person is None or person.manager_email is None:
            return None
        return self.lookup(person.manager_email)
