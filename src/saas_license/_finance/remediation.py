"""Remediation statuses across reconciliations: an option still needed keeps its status, one no
longer needed becomes void (whatever it was: the audit log keeps what was done about it).

Pure: :func:`merge_statuses` takes the options of a fresh reconciliation and what the store
kept, and says what each option's status is now and what to store back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from .._convert import converter
from .._store._finance import StoredRemediation
from .reconciliation import RemediationOption, RemediationStatus

__all__ = ["merge_statuses", "option_from", "with_statuses"]


def _status(stored: StoredRemediation | None) -> RemediationStatus | None:
    return None if stored is None else RemediationStatus(stored.status)


def with_statuses(
    options: Sequence[RemediationOption], stored: Iterable[StoredRemediation]
) -> tuple[RemediationOption, ...]:
    """``options`` with the status the store keeps for each (new when none, or when voided
    and needed again)."""
    by_key = {s.key: s for s in stored}
    out = []
    for opt in options:
        status = _status(by_key.get(opt.key))
        if status is None or status is RemediationStatus.VOID:
            status = RemediationStatus.NEW
        out.append(attrs.evolve(opt, status=status))
    return tuple(out)


def merge_statuses(
    options: Sequence[RemediationOption],
    stored: Iterable[StoredRemediation],
    *,
    now: dt.datetime,
) -> tuple[tuple[RemediationOption, ...], list[StoredRemediation]]:
    """The options with their statuses, and the rows to store: each option (its figures
    refreshed), and each stored option no longer needed, voided."""
    kept = list(stored)
    current = with_statuses(options, kept)
    rows = [
        StoredRemediation(key=o.key, status=o.status.value, updated_at=now, data=_data(o))
        for o in current
    ]
    needed = {o.key for o in current}
    for old in kept:
        status = RemediationStatus(old.status)
        if old.key not in needed and status is not RemediationStatus.VOID:
            rows.append(attrs.evolve(old, status=RemediationStatus.VOID.value, updated_at=now))
    return current, rows


def _data(option: RemediationOption) -> dict[str, Any]:
    data = converter.unstructure(option)
    assert isinstance(data, dict)
    data.pop("status", None)
    return data


def option_from(stored: StoredRemediation) -> RemediationOption:
    """A stored option as a :class:`RemediationOption` with its stored status."""
    return converter.structure({**stored.data, "status": stored.status}, RemediationOption)
