"""Answer tokens: signed, bound to one candidate and recipient, expiring; any change is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saas_license import ConfigError, LinkError
from saas_license._links import AnswerRole, LinkSigner, answer_url, check_public_url
from saas_license._secrets import Secret, SecretStore

NOW = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.timezone.utc)
SIGNER = LinkSigner(Secret("k" * 43))


def _token(**kw: object) -> str:
    args: dict[str, object] = {
        "candidate_id": 7,
        "recipient": "ana@acme.test",
        "role": AnswerRole.HOLDER,
        "expires_at": NOW + dt.timedelta(days=5),
    }
    args.update(kw)
    return SIGNER.issue(**args)  # type: ignore[arg-type]


def test_a_token_round_trips_its_claims() -> None:
    claims = SIGNER.verify(_token(), now=NOW)
    assert (claims.candidate_id, claims.recipient, claims.role) == (
        7,
        "ana@acme.test",
        AnswerRole.HOLDER,
    )
    assert claims.expires_at == NOW + dt.timedelta(days=5)
    assert claims.nonce != SIGNER.verify(_token(), now=NOW).nonce  # every link is its own


def test_expired_tampered_foreign_and_garbage_tokens_are_refused_with_their_reason() -> None:
    with pytest.raises(LinkError) as exc:
        SIGNER.verify(_token(expires_at=NOW), now=NOW)
    assert exc.value.reason == "expired" and "expired" in exc.value.user_message
    other = LinkSigner(Secret("x" * 43))
    with pytest.raises(LinkError) as exc:
        other.verify(_token(), now=NOW)
    assert exc.value.reason == "tampered"
    for junk in ("", "abc", "a.b.c", "%%%.%%%", "x" * 5000):
        with pytest.raises(LinkError) as exc:
            SIGNER.verify(junk, now=NOW)
        assert exc.value.reason in ("invalid", "tampered")


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), char=st.sampled_from("AQgw-_0aZ."))
def test_changing_any_character_never_yields_a_valid_token(position: int, char: str) -> None:
    token = _token()
    i = position % len(token)
    changed = token[:i] + char + token[i + 1 :]
    if changed == token:
        return
    reason, claims = "", None
    try:
        claims = SIGNER.verify(changed, now=NOW)
    except LinkError as exc:
        reason = exc.reason
    # base64 padding bits can change without changing the bytes: then the very same claims
    assert reason in ("invalid", "tampered") or claims == SIGNER.verify(token, now=NOW)


def test_the_key_lives_in_the_secret_store_and_never_in_a_repr(tmp_path: object) -> None:
    store = SecretStore(f"{tmp_path}/secrets.json")
    signer = LinkSigner.from_secrets(store)
    assert "links/signing_key" in list(store.names())
    key = store.get("links/signing_key")
    assert key is not None and key.reveal() not in repr(signer)
    # the same key next time: links sent yesterday still work
    token = signer.issue(
        candidate_id=1,
        recipient="a@b.c",
        role=AnswerRole.APPROVER,
        expires_at=NOW + dt.timedelta(days=1),
    )
    assert LinkSigner.from_secrets(store).verify(token, now=NOW).role is AnswerRole.APPROVER


def test_public_url_must_be_https_or_this_machine() -> None:
    assert check_public_url("https://licenses.example.com/") == "https://licenses.example.com"
    assert check_public_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    for bad in (
        "http://licenses.example.com",
        "ftp://x",
        "https://x/?a=1",
        "https://u:p@x",
        "nope",
    ):
        with pytest.raises(ConfigError, match="public_url"):
            check_public_url(bad)
    assert answer_url("https://x.test/", "t.s") == "https://x.test/answer/t.s"
