"""When a seat was last seen and its activity last checked, with what complete downloads carried.

A re-run writes no seat the download left unchanged (issue 13): each seat keeps the run that
last wrote it (``seen_run``), and a complete download *carries* that run forward instead
(``download_runs.carried_to``, with the download's instants). A carried seat reads as seen at
the carrying download's instant and, if that download counted activity as checked, as checked
then too (never earlier than what its own row says).

Why this is sound: a download only leaves unchanged a seat whose run the profile's last complete
download carried (or wrote) and whose stored row says what its record says; when it completes,
every other active seat it did not write is closed first (``close_unseen``). So an active seat
whose run is carried was matched, unchanged, by every complete download since it was last
written. What leaves that state writes the seat's instants into its row: closing (vanished or
reclaimed) stores the carried instants first, and an undo that reactivates a seat detaches it
(``seen_run`` NULL: nothing carried, its own instants only).

Every reader of a seat's ``last_seen_at`` / ``activity_checked_at`` goes through these
expressions (both stores; ``s`` is the seat, ``dr`` its run).
"""

from __future__ import annotations

__all__ = [
    "CARRIED",
    "CHECKED",
    "LAST_SEEN",
    "MATERIALIZE",
    "SEEN_JOIN",
    "checked_of",
    "seen_of",
]

#: The seat's run, joined beside it (a seat with no run, or a run not carried, has NULLs).
SEEN_JOIN = "LEFT JOIN download_runs dr ON dr.id = s.seen_run"

#: The seat is active and a later complete download of its profile carried its run.
CARRIED = "(s.active = 1 AND dr.carried_to <> dr.id AND dr.profile = s.profile)"

#: When the seat was last seen.
LAST_SEEN = f"(CASE WHEN {CARRIED} THEN dr.carried_seen_at ELSE s.last_seen_at END)"

#: When the seat's activity was last checked (the later of its own and a carrying download's).
CHECKED = (
    f"(CASE WHEN {CARRIED} AND dr.carried_checked_at IS NOT NULL AND "
    "(s.activity_checked_at IS NULL OR dr.carried_checked_at > s.activity_checked_at) "
    "THEN dr.carried_checked_at ELSE s.activity_checked_at END)"
)


def _run(t: str) -> str:
    return (
        f"FROM download_runs dr WHERE dr.id = {t}.seen_run AND dr.carried_to <> dr.id "
        f"AND dr.profile = {t}.profile AND {t}.active = 1"
    )


def seen_of(t: str) -> str:
    """In a write of the seat row ``t``: when it was last seen, as it reads before the write."""
    return f"COALESCE((SELECT dr.carried_seen_at {_run(t)}), {t}.last_seen_at)"


def checked_of(t: str) -> str:
    """In a write of the seat row ``t``: when its activity was last checked, as it reads before
    the write (a write that moves ``seen_run`` keeps what the old run carried)."""
    return (
        f"COALESCE((SELECT CASE WHEN {t}.activity_checked_at IS NULL "
        f"OR dr.carried_checked_at > {t}.activity_checked_at THEN dr.carried_checked_at "
        f"ELSE {t}.activity_checked_at END {_run(t)} AND dr.carried_checked_at IS NOT NULL), "
        f"{t}.activity_checked_at)"
    )


#: ``UPDATE subscriptions SET`` clauses storing an active seat's carried instants in its own
#: row, for a write that takes it out of the carried state (closing it, or moving its run).
MATERIALIZE = (
    f"last_seen_at = {seen_of('subscriptions')}, "
    f"activity_checked_at = {checked_of('subscriptions')}"
)
