"""The audit log on SQLite (the hash chain's rules are in :mod:`.._integrity`).

Implements :class:`~saas_license._store._protocol.AuditStore`.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from json.encoder import encode_basestring_ascii as _ascii
from typing import Any

import attrs

from ..._audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditVerification,
    EntryHasher,
    chain_name,
    similar_hasher,
)
from ..._errors import StoreError
from ..._time import epoch_ms, format_instant, parse_instant
from .._integrity import (
    _INSERT_COLUMNS,
    _READ_COLUMNS,
    AuditKinds,
    append_chained,
    decoded,
    hex_of,
    read_kinds,
    stored_hash,
    verify_chain,
)
from .base import SqliteBaseStore, _dumps, _is_busy, _ts, insert_rows

__all__ = ["SqliteAuditStore"]

#: One compact entry (:func:`compact_row`'s columns; actor, action and entity empty: its kind
#: holds them), positional and plain (PostgreSQL takes many rows of it by ``COPY``).
_INSERT_TEXTS = f"INSERT INTO audit_log ({_INSERT_COLUMNS}) VALUES"
_INSERT_TEXT = "(?, ?, '', '', '', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

#: The stored JSON of ``before``/``after`` (as ``_dumps``: sorted keys, compact), one encoder.
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
#: A flat value's keys (as the dict holds them) → each key, in :data:`_encode`'s order, with
#: its text as written there (``{"key":`` for the first, ``,"key":`` after it).
_PLANS: dict[tuple[Any, ...], tuple[tuple[str, str], ...]] = {}


def encode_value(value: Any) -> str:
    """:data:`_encode`'s text of ``value``, byte for byte; a flat dict (text keys; text, plain
    int or None values: what an audit entry's ``before``/``after`` mostly is) is put together
    from the encoder's own pieces, without setting an encoder up per value."""
    if type(value) is not dict or not value:
        return _encode(value)
    keys = tuple(value)
    plan = _PLANS.get(keys)
    if plan is None:
        if any(type(key) is not str for key in keys):
            return _encode(value)
        if len(_PLANS) > 256:  # keys are the code's own few shapes; bounded all the same
            _PLANS.clear()
        plan = _PLANS[keys] = tuple(
            (key, ("{" if n == 0 else ",") + _ascii(key) + ":")
            for n, key in enumerate(sorted(keys))
        )
    pieces = []
    for key, name in plan:
        item = value[key]
        if type(item) is str:
            pieces.append(name + _ascii(item))
        elif type(item) is int:
            pieces.append(name + int.__repr__(item))
        elif item is None:
            pieces.append(name + "null")
        else:
            return _encode(value)
    pieces.append("}")
    return "".join(pieces)


class SqliteAuditStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.AuditStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    def append_audit(self, entry: AuditEntry) -> AuditEntry:
        """Append one entry at the head of its hash chain (the log cannot be updated or deleted)."""
        values = {
            "at": _ts(entry.at),
            "actor": entry.actor,
            "action": entry.action,
            "entity": entry.entity,
            "entity_id": entry.entity_id,
            "profile": entry.profile,
            "before": None if entry.before is None else _dumps(entry.before),
            "after": None if entry.after is None else _dumps(entry.after),
            "detail": entry.detail,
        }
        with self.transaction():
            try:
                row = append_chained(self._db, values)
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                    raise self._busy() from None
                raise StoreError(f"could not append to the audit log: {exc}") from exc
        return attrs.evolve(
            entry,
            id=row["id"],
            chain=row["chain"],
            seq=row["seq"],
            prev_hash=row["prev_hash"],
            hash=row["hash"],
        )

    def append_audit_many(self, entries: list[AuditEntry]) -> None:
        """Append entries in order, each at the head of its chain, with one statement per batch
        (the same rows and hashes as :meth:`append_audit` one by one)."""
        at_of: tuple[dt.datetime | None, str | None] = (None, None)
        texts = []
        for entry in entries:
            if entry.at is not at_of[0]:  # a batch's entries mostly share one instant
                at_of = (entry.at, _ts(entry.at))
            texts.append(
                (
                    (
                        at_of[1],
                        entry.actor,
                        entry.action,
                        entry.entity,
                        entry.profile,
                        None if entry.before is None else encode_value(entry.before),
                    ),
                    entry.entity_id,
                    None if entry.after is None else encode_value(entry.after),
                    entry.detail,
                )
            )
        self._append_texts(texts)

    def append_audit_similar(
        self,
        template: AuditEntry,
        parts: Sequence[tuple[str | None, dict[str, Any] | None, str]],
    ) -> None:
        """:meth:`append_audit_many` for entries that are ``template`` but for each part's
        ``(entity_id, after, detail)``: how a day's run audits the many candidates it creates,
        without an :class:`AuditEntry` each (the same rows and hashes)."""
        before = None if template.before is None else encode_value(template.before)
        shared = (
            _ts(template.at),
            template.actor,
            template.action,
            template.entity,
            template.profile,
            before,
        )
        self._append_texts(
            [
                (shared, eid, None if after is None else encode_value(after), d)
                for eid, after, d in parts
            ]
        )

    def _append_texts(self, texts: Sequence[tuple[Any, ...]]) -> None:
        """Append entries given as their stored text ``((at, actor, action, entity, profile,
        before), entity_id, after, detail)``, in order, each at the head of its chain: hashed as
        written, stored compact (:func:`compact_row`'s columns), one statement for all.

        What entries share (the first six fields: a batch's entries mostly share them all, and
        :meth:`append_audit_similar`'s share one tuple of them) is worked out once: their
        chain, its hash pieces (:func:`similar_hasher`), the instant's milliseconds, the kind."""
        with self.transaction():
            try:
                # chain -> [seq, hash as hex, hash as stored] of its head
                heads: dict[str, list[Any]] = {}
                next_id = int(
                    self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM audit_log").fetchone()[0]
                )
                rows = []
                kinds = AuditKinds(self._db)
                shared: dict[tuple[Any, ...], tuple[Any, ...]] = {}
                last: Any = None
                fromhex = bytes.fromhex
                for key, eid, after, detail in texts:
                    if key is not last:  # the same fields as the entry before: as they were
                        found = shared.get(key)
                        if found is None:
                            if len(shared) > 4096:  # many distinct entries: keep memory flat
                                shared.clear()
                            found = shared[key] = self._shared(heads, kinds, *key)
                        chain, hasher, stored_at, ms, kind = found
                        profile, before, head = key[4], key[5], heads[chain]
                        last = key
                    seq = head[0] + 1
                    digest = hasher(seq, head[1], next_id, eid, after, detail)
                    raw = fromhex(digest)  # stored_hash
                    rows.append(
                        (
                            next_id,
                            stored_at,
                            eid,
                            profile,
                            before,
                            after,
                            detail,
                            chain,
                            seq,
                            head[2],
                            raw,
                            ms,
                            kind,
                        )
                    )
                    head[0], head[1], head[2] = seq, digest, raw
                    next_id += 1
                insert_rows(self._db, _INSERT_TEXTS, _INSERT_TEXT, rows)
                self._db.executemany(
                    "INSERT INTO audit_chains (chain, seq, hash) VALUES (?, ?, ?) "
                    "ON CONFLICT(chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                    [(chain, seq, raw) for chain, (seq, _, raw) in heads.items()],
                )
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.OperationalError) and _is_busy(exc):
                    raise self._busy() from None
                raise StoreError(f"could not append to the audit log: {exc}") from exc

    def _shared(
        self,
        heads: dict[str, list[Any]],
        kinds: AuditKinds,
        at: Any,
        actor: str,
        action: str,
        entity: str,
        profile: str | None,
        before: str | None,
    ) -> tuple[str, EntryHasher, Any, int | None, int]:
        """For entries that share these fields: their chain (its head read into ``heads`` when
        not there yet), hasher, stored instant text, milliseconds and kind (compact_row's
        columns: the instant as milliseconds when canonical, actor, action and entity as a
        kind)."""
        chain = chain_name(profile)
        if chain not in heads:
            head = self._db.execute(
                "SELECT seq, hash FROM audit_chains WHERE chain = ?", (chain,)
            ).fetchone()
            if head is None:
                heads[chain] = [0, GENESIS_HASH, stored_hash(GENESIS_HASH)]
            else:
                prev = str(hex_of(head[1]))
                heads[chain] = [int(head[0]), prev, stored_hash(prev)]
        hasher = similar_hasher(
            chain=chain,
            at=at,
            actor=actor,
            action=action,
            entity=entity,
            profile=profile,
            before=before,
        )
        ms = kinds.ms_of(at)
        return chain, hasher, at if ms is None else "", ms, kinds.id_of(actor, action, entity)

    def list_audit(
        self,
        *,
        profile: str | None = None,
        entity: str | None = None,
        limit: int = 1000,
        entity_id: str | None = None,
        action: str | None = None,
        since: dt.datetime | None = None,
        last: bool = False,
    ) -> list[AuditEntry]:
        """Audit entries, oldest first; ``action`` matches a prefix (``candidate.``), ``last``
        keeps the newest ``limit`` entries instead of the oldest."""
        sql, where = f"SELECT {_READ_COLUMNS} FROM audit_log", []
        params: list[Any] = []
        # an entry written since ``compact`` 5 keeps its instant in ``at_ms`` and its actor,
        # action and entity in its kind; one written before, in its text columns
        if profile is not None:
            where.append("profile = ?")
            params.append(profile)
        if entity is not None and entity_id is not None:  # each form by its own index
            where.append(
                "((kind IS NULL AND entity = ? AND entity_id = ?) OR (kind IS NOT NULL AND "
                "kind IN (SELECT id FROM audit_kinds WHERE entity = ?) AND entity_id = ?))"
            )
            params.extend([entity, entity_id, entity, entity_id])
        elif entity is not None:
            where.append(
                "((kind IS NULL AND entity = ?) OR kind IN "
                "(SELECT id FROM audit_kinds WHERE entity = ?))"
            )
            params.extend([entity, entity])
        elif entity_id is not None:
            where.append("entity_id = ?")
            params.append(entity_id)
        if action is not None:
            where.append(
                "((kind IS NULL AND substr(action, 1, ?) = ?) OR kind IN "
                "(SELECT id FROM audit_kinds WHERE substr(action, 1, ?) = ?))"
            )
            params.extend([len(action), action, len(action), action])
        if since is not None:
            where.append("((at_ms IS NULL AND at >= ?) OR at_ms >= ?)")
            params.extend([format_instant(since), epoch_ms(since)])  # the text form's millisecond
        if where:
            sql += " WHERE " + " AND ".join(where)
        order = "DESC" if last else "ASC"
        stored = list(self._q(sql + f" ORDER BY id {order} LIMIT ?", (*params, limit)))
        if last:
            stored.reverse()
        kinds = read_kinds(self._db) if any(r["kind"] is not None for r in stored) else {}
        rows = [decoded(r, kinds) for r in stored]
        return [
            AuditEntry(
                id=r["id"],
                at=parse_instant(r["at"]),
                actor=r["actor"],
                action=r["action"],
                entity=r["entity"],
                entity_id=r["entity_id"],
                profile=r["profile"],
                before=None if r["before"] is None else json.loads(r["before"]),
                after=None if r["after"] is None else json.loads(r["after"]),
                detail=r["detail"],
                chain=r["chain"],
                seq=r["seq"],
                prev_hash=hex_of(r["prev_hash"]),
                hash=hex_of(r["hash"]),
            )
            for r in rows
        ]

    def verify_audit(self) -> AuditVerification:
        """Check every audit chain entry by entry, the chain heads and the log's guards."""
        try:
            return verify_chain(self._db)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"could not read the audit log: {exc}") from exc
