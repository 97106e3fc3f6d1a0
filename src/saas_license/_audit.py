"""Audit log entries: who changed what, when, from what to what. The log is append-only and
hash-chained: each entry carries the hash of the one before it in its chain, so a rewrite shows.

There is one chain per profile (``profile:<name>``) and one for workspace-wide changes
(``workspace``), so that writers of different profiles never queue on one chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any

import attrs

__all__ = [
    "GENESIS_HASH",
    "WORKSPACE_CHAIN",
    "AuditEntry",
    "AuditProblem",
    "AuditVerification",
    "EntryHasher",
    "chain_name",
    "entry_hash",
    "json_piece",
    "similar_hasher",
]

#: The ``prev_hash`` of the first entry of every chain.
GENESIS_HASH = "0" * 64
#: The chain of entries that belong to no profile.
WORKSPACE_CHAIN = "workspace"


def chain_name(profile: str | None) -> str:
    """The chain an entry of ``profile`` (None: workspace-wide) belongs to."""
    return WORKSPACE_CHAIN if profile is None else f"profile:{profile}"


def entry_hash(
    *,
    chain: str,
    seq: int,
    prev_hash: str,
    entry_id: int,
    at: str,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    profile: str | None,
    before: str | None,
    after: str | None,
    detail: str,
) -> str:
    """SHA-256 of one entry exactly as stored (text columns, JSON already serialised).

    Hashing the stored text, not a re-serialisation, means verification never depends on how
    values round-trip through Python.
    """
    fields = [chain, seq, prev_hash, entry_id, at, actor, action, entity, entity_id, profile]
    fields.extend((before, after, detail))
    payload = _ENCODE(fields)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


#: ``json.dumps(fields, ensure_ascii=False, separators=(",", ":"))``, with one encoder for all.
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def json_piece(value: Any) -> str:
    """``value`` exactly as :func:`entry_hash`'s encoder writes it inside the field list: text
    by the encoder's own string function, ``null``, plain ints as ``int`` writes them, anything
    else by the encoder itself (the same bytes, without setting an encoder up per value)."""
    if type(value) is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    if type(value) is int:
        return int.__repr__(value)
    return _ENCODE(value)


#: :func:`similar_hasher`'s hash of one entry from what varies: ``(seq, prev_hash, entry_id,
#: entity_id, after, detail)``.
EntryHasher = Callable[[int, str, int, str | None, str | None, str], str]


def similar_hasher(
    *,
    chain: str,
    at: str,
    actor: str,
    action: str,
    entity: str,
    profile: str | None,
    before: str | None,
) -> EntryHasher:
    """:func:`entry_hash` for entries that share every field but ``seq``, ``prev_hash``,
    ``entry_id``, ``entity_id``, ``after`` and ``detail``: the shared fields are encoded once,
    each entry's payload is put together from pieces (byte for byte :func:`entry_hash`'s; a
    run audits thousands of new candidates that differ only there)."""
    head = "[" + json_piece(chain) + ","
    mid = "," + ",".join(map(json_piece, (at, actor, action, entity))) + ","
    tail = "," + json_piece(profile) + "," + json_piece(before) + ","
    piece, text, sha256, int_text = json_piece, encode_basestring, hashlib.sha256, int.__repr__

    def digest(
        seq: int,
        prev_hash: str,
        entry_id: int,
        entity_id: str | None,
        after: str | None,
        detail: str,
    ) -> str:
        # json_piece's cases inline for the usual types (ints, text): one call a field less
        payload = (
            f"{head}{int_text(seq) if type(seq) is int else piece(seq)},"
            f"{text(prev_hash) if type(prev_hash) is str else piece(prev_hash)},"
            f"{int_text(entry_id) if type(entry_id) is int else piece(entry_id)}{mid}"
            f"{text(entity_id) if type(entity_id) is str else piece(entity_id)}{tail}"
            f"{text(after) if type(after) is str else piece(after)},"
            f"{text(detail) if type(detail) is str else piece(detail)}]"
        )
        return sha256(payload.encode("utf-8")).hexdigest()

    return digest


@attrs.frozen(kw_only=True)
class AuditEntry:
    """One state change or vendor mutation, recorded before and after it happens.

    ``chain``, ``seq``, ``prev_hash`` and ``hash`` are set by the store when the entry is
    appended; they place it in its hash chain.
    """

    at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None = None
    profile: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    detail: str = ""
    id: int | None = None
    chain: str | None = None
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


@attrs.frozen(kw_only=True)
class AuditProblem:
    """One thing wrong with the audit log.

    ``kind`` is ``changed`` (an entry's content no longer matches its hash), ``removed``
    (entries missing from a chain), ``inserted`` (an entry that is not part of its chain),
    ``replaced`` (an entry swapped for another that does not link to its neighbours) or
    ``trigger`` (a guard of the log was dropped or altered).
    """

    kind: str
    message: str
    chain: str | None = None
    seq: int | None = None
    entry_id: int | None = None

    def __str__(self) -> str:
        return self.message


@attrs.frozen(kw_only=True)
class AuditVerification:
    """The outcome of checking every chain of the audit log and its guards."""

    entries: int
    chains: dict[str, int]
    heads: dict[str, str]
    problems: tuple[AuditProblem, ...] = ()

    @property
    def ok(self) -> bool:
        """True when every chain verifies and every guard is in place."""
        return not self.problems

    def summary(self) -> str:
        """One line: verified, or how many problems (and the first)."""
        if self.ok:
            return (
                f"audit chain verified: {self.entries} entries in {len(self.chains)} "
                f"chain{'s' if len(self.chains) != 1 else ''}"
            )
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
        return f"audit chain BROKEN: {first.message}{more}"
