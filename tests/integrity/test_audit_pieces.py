"""The audit log's bulk writes put each entry's JSON together from pieces (issue 13: a run's
thousands of new candidates): the hash chain's payload and the stored ``before``/``after`` must
be byte for byte what the one encoder writes, for any text (quotes, backslashes, control
characters, any unicode, lone surrogates), and a batch must store exactly the rows and hashes
that appending its entries one by one does."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saas_license import AuditEntry
from saas_license._audit import entry_hash, json_piece, similar_hasher
from saas_license._store._sqlite import SqliteStore
from saas_license._store._sqlite.audit import encode_value

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=UTC)

#: Any text, lone surrogates and control characters included (Hypothesis leaves surrogates out
#: by default).
anytext = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
texts = st.one_of(anytext, st.sampled_from(['"', "\\", "\x00\x1f\x7f", "é\u2028\U0001f600"]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_SORTED = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode


def _outcome(call: Any) -> tuple[str, Any]:
    """What a call gives: its value, or the kind of error it raises."""
    try:
        return "value", call()
    except (TypeError, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        return "error", type(exc)


@settings(max_examples=300, deadline=None)
@given(value=values)
def test_a_piece_is_what_the_encoder_writes_inside_the_list(value: Any) -> None:
    assert json_piece(value) == _ENCODE([value])[1:-1]


@settings(max_examples=300, deadline=None)
@given(
    seq=st.integers(),
    prev_hash=texts,
    entry_id=st.integers(),
    shared=st.tuples(texts, texts, texts, texts, texts, st.none() | texts, st.none() | texts),
    entity_id=st.none() | texts,
    after=st.none() | texts,
    detail=texts,
)
def test_similar_entries_hash_as_entry_hash(
    seq: int,
    prev_hash: str,
    entry_id: int,
    shared: tuple[Any, ...],
    entity_id: str | None,
    after: str | None,
    detail: str,
) -> None:
    """The same hash for any field text, and the same error where the text cannot be hashed
    (a lone surrogate has no UTF-8)."""
    chain, at, actor, action, entity, profile, before = shared
    common = dict(
        chain=chain, at=at, actor=actor, action=action, entity=entity, profile=profile
    ) | {"before": before}
    hasher = similar_hasher(**common)
    fast = _outcome(lambda: hasher(seq, prev_hash, entry_id, entity_id, after, detail))
    plain = _outcome(
        lambda: entry_hash(
            seq=seq,
            prev_hash=prev_hash,
            entry_id=entry_id,
            entity_id=entity_id,
            after=after,
            detail=detail,
            **common,
        )
    )
    assert fast == plain
    fields = [chain, seq, prev_hash, entry_id, at, actor, action, entity, entity_id, profile]
    payload = _ENCODE([*fields, before, after, detail])
    if plain[0] == "value":  # and that is the SHA-256 of the encoder's own payload
        assert plain[1] == hashlib.sha256(payload.encode("utf-8")).hexdigest()


@settings(max_examples=400, deadline=None)
@given(
    value=st.one_of(
        st.dictionaries(texts, scalars, max_size=5),
        st.dictionaries(texts, values, max_size=4),
        st.dictionaries(st.integers() | texts, scalars, max_size=3),
        values,
    )
)
def test_a_stored_value_is_what_the_encoder_writes(value: Any) -> None:
    """``before``/``after`` as stored: sorted keys, compact, ASCII; a value the encoder refuses
    (keys that do not sort) is refused alike."""
    assert _outcome(lambda: encode_value(value)) == _outcome(lambda: _SORTED(value))
    assert _outcome(lambda: encode_value(value)) == _outcome(lambda: _SORTED(value))  # cached


def test_a_dict_of_another_kind_is_left_to_the_encoder() -> None:
    class Ordered(dict[str, Any]):
        pass

    value = Ordered(b=1, a="x")
    assert encode_value(value) == _SORTED(value) == '{"a":"x","b":1}'
    assert encode_value({}) == "{}"
    assert encode_value({"a": True, "b": 1.5}) == '{"a":true,"b":1.5}'


entries = st.builds(
    AuditEntry,
    at=st.sampled_from([NOW, NOW + dt.timedelta(microseconds=1500)]),
    actor=st.sampled_from(["system", 'ünï "q" \\']),
    action=st.sampled_from(["candidate.created", "x"]),
    entity=st.sampled_from(["candidate", "seat"]),
    entity_id=st.none() | st.text(max_size=6),
    profile=st.none() | st.sampled_from(["a", "b\x00"]),
    before=st.none() | st.dictionaries(st.text(max_size=4), scalars, max_size=3),
    after=st.none() | st.dictionaries(st.text(max_size=4), values, max_size=3),
    detail=st.text(max_size=20),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    head=st.lists(entries, max_size=3),
    batch=st.lists(entries, min_size=1, max_size=8),
    similar=st.booleans(),
)
def test_a_batch_stores_what_one_append_each_would(
    head: list[AuditEntry], batch: list[AuditEntry], similar: bool
) -> None:
    """Every stored column and chain head the same as ``append_audit`` per entry (whose JSON
    and hash take the one-encoder path), after entries already in the chains."""
    if similar:  # append_audit_similar's entries: the first's shared fields, their own rest
        first = batch[0]
        batch = [
            attrs.evolve(first, entity_id=e.entity_id, after=e.after, detail=e.detail)
            for e in batch
        ]
    one, bulk = SqliteStore(":memory:"), SqliteStore(":memory:")
    try:
        for store in (one, bulk):
            for e in head:
                store.append_audit(e)
        for e in batch:
            one.append_audit(e)
        if similar:
            bulk.append_audit_similar(
                attrs.evolve(batch[0], entity_id=None, after=None, detail=""),
                [(e.entity_id, e.after, e.detail) for e in batch],
            )
        else:
            bulk.append_audit_many(batch)
        for sql in ("SELECT * FROM audit_log ORDER BY id", "SELECT * FROM audit_chains"):
            assert [tuple(r) for r in bulk._q(sql)] == [tuple(r) for r in one._q(sql)]
        assert bulk.verify_audit().ok
    finally:
        one.close()
        bulk.close()


@pytest.mark.parametrize("text", ["\ud800", "a\udfff"])
def test_a_lone_surrogate_fails_alike(text: str) -> None:
    """The encoder writes a lone surrogate as it is; UTF-8 then refuses it, on either path."""
    hasher = similar_hasher(
        chain="c", at="t", actor="a", action="x", entity="e", profile=None, before=None
    )
    with pytest.raises(UnicodeEncodeError):
        hasher(1, "0" * 64, 1, None, None, text)
    with pytest.raises(UnicodeEncodeError):
        entry_hash(
            chain="c",
            seq=1,
            prev_hash="0" * 64,
            entry_id=1,
            at="t",
            actor="a",
            action="x",
            entity="e",
            entity_id=None,
            profile=None,
            before=None,
            after=None,
            detail=text,
        )
