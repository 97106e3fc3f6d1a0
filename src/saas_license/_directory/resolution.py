"""How many seats the directory resolves to a person, and which users it does not know."""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from .index import DirectoryIndex
from .records import normalise_email

__all__ = ["DirectoryLoad", "SeatResolution", "UnresolvedUser", "resolve_seats"]


@attrs.frozen(kw_only=True)
class UnresolvedUser:
    """A user principal name no person in the directory is known by, with their active seats."""

    address: str
    seats: int
    profiles: tuple[str, ...]


@attrs.frozen(kw_only=True)
class SeatResolution:
    """Active seats resolved to a person (by e-mail or alias, any case) and those that are not.

    ``unresolved`` lists every unknown user, sorted by address: they are shown, never guessed.
    """

    profile: str | None
    resolved_seats: int
    unresolved_seats: int
    resolved_people: int
    unresolved: tuple[UnresolvedUser, ...]

    @property
    def seats(self) -> int:
        """Every active seat looked at."""
        return self.resolved_seats + self.unresolved_seats


@attrs.frozen(kw_only=True)
class DirectoryLoad:
    """What one directory load stored: the source, how many people and addresses, and how the
    workspace's active seats resolve against the new directory."""

    source: str
    people: int
    addresses: int
    resolution: SeatResolution


def resolve_seats(
    seats: Iterable[tuple[str, str]], index: DirectoryIndex | None, *, profile: str | None
) -> SeatResolution:
    """Resolve ``(profile, user principal name)`` pairs, one per active seat, against ``index``."""
    resolved = unresolved = 0
    people: set[str] = set()
    missing: dict[str, tuple[str, int, set[str]]] = {}
    for seat_profile, upn in seats:
        person = index.lookup(upn) if index is not None else None
        if person is not None:
            resolved += 1
            people.add(normalise_email(person.email))
            continue
        unresolved += 1
        key = normalise_email(upn)
        shown, count, profiles = missing.get(key, (upn, 0, set()))
        profiles.add(seat_profile)
        missing[key] = (shown, count + 1, profiles)
    return SeatResolution(
        profile=profile,
        resolved_seats=resolved,
        unresolved_seats=unresolved,
        resolved_people=len(people),
        unresolved=tuple(
            UnresolvedUser(address=shown, seats=count, profiles=tuple(sorted(profiles)))
            for _key, (shown, count, profiles) in sorted(missing.items())
        ),
    )
