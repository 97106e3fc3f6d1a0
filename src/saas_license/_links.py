"""Answer links: signed, single-use tokens that let a person answer one notice about one seat.

A token names one candidate, one recipient and that recipient's role (the seat's *holder*, who
keeps or releases it, or an *approver*, who approves or declines a "keep"), carries an expiry
and a random nonce, and is signed with HMAC-SHA256 under a key kept in the workspace's secret
store (created on first use, never logged). Using a link records its nonce in the store in the
same transaction as the answer, so a link works once. URLs are ``{public_url}/answer/{token}``:
the ``public_url`` workspace setting must be set before any answerable notice is sent.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import hashlib
import hmac
import json
import secrets
import urllib.parse

import attrs

from ._errors import ConfigError, SaasLicenseError
from ._profiles import check_base_url
from ._secrets import Secret, SecretStore

__all__ = [
    "LINK_KEY_SECRET",
    "AnswerRole",
    "LinkClaims",
    "LinkError",
    "LinkSigner",
    "answer_url",
    "check_public_url",
]

#: Where the signing key lives in the workspace's secret store.
LINK_KEY_SECRET = "links/signing_key"  # noqa: S105 - a key name, not a secret
_VERSION = 1
_MAX_TOKEN = 2048


class AnswerRole(str, enum.Enum):
    """Who a link was sent to: the seat's holder (keep / release) or an approver (approve / decline)."""

    HOLDER = "holder"
    APPROVER = "approver"


class LinkError(SaasLicenseError):
    """An answer link that cannot be used; ``reason`` says why and ``user_message`` is the text
    to show the person who opened it (it never says more than they need: no ids, no secrets).

    ``reason`` is one of ``invalid`` (not a token of ours), ``tampered`` (the signature does not
    match), ``expired``, ``used`` (answered already through this link) or ``wrong_state`` (the
    candidate has moved on, or the request went to someone else).
    """

    REASONS = ("invalid", "tampered", "expired", "used", "wrong_state")
    _MESSAGES = {
        "invalid": "This link is not valid. Check that you copied the whole link from the e-mail.",
        "tampered": "This link is not valid. Check that you copied the whole link from the e-mail.",
        "expired": "This link has expired. Ask your software asset managers if you still need to answer.",
        "used": "This link has been used already: your answer was recorded.",
        "wrong_state": "This request has been settled or withdrawn already; nothing needs doing.",
    }

    def __init__(self, reason: str, message: str, *, user_message: str | None = None) -> None:
        if reason not in self.REASONS:  # pragma: no cover - a programming error
            raise ValueError(f"unknown link error reason {reason!r}")
        super().__init__(message)
        self.reason = reason
        self.user_message = user_message or self._MESSAGES[reason]


@attrs.frozen(kw_only=True)
class LinkClaims:
    """What a verified token says: which candidate, who may answer, as what, until when."""

    candidate_id: int
    recipient: str
    role: AnswerRole
    expires_at: dt.datetime
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LinkSigner:
    """Issues and verifies answer tokens with one HMAC key (:meth:`from_secrets` keeps it in the
    workspace's secret store)."""

    def __init__(self, key: Secret) -> None:
        if len(key.reveal()) < 32:
            raise ConfigError("the link signing key is too short", field=LINK_KEY_SECRET)
        self._key = key

    def __repr__(self) -> str:
        return "LinkSigner(key=Secret('********'))"

    @classmethod
    def from_secrets(cls, secrets_store: SecretStore) -> LinkSigner:
        """The workspace's signer; its key is created (256 random bits) on first use."""
        key = secrets_store.get(LINK_KEY_SECRET)
        if key is None:
            key = Secret(secrets.token_urlsafe(32))
            secrets_store.set(LINK_KEY_SECRET, key)
        return cls(key)

    def _sign(self, body: str) -> str:
        mac = hmac.new(self._key.reveal().encode("utf-8"), body.encode("ascii"), hashlib.sha256)
        return _b64(mac.digest())

    def issue(
        self, *, candidate_id: int, recipient: str, role: AnswerRole, expires_at: dt.datetime
    ) -> str:
        """A new token (URL-safe text) for one candidate and one recipient, valid until ``expires_at``."""
        payload = {
            "v": _VERSION,
            "c": int(candidate_id),
            "r": recipient,
            "o": role.value,
            "e": int(expires_at.timestamp()),
            "n": secrets.token_urlsafe(12),
        }
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8"))
        return f"{body}.{self._sign(body)}"

    def verify(self, token: str, *, now: dt.datetime) -> LinkClaims:
        """The claims of ``token``, or :class:`LinkError` (``invalid``, ``tampered``, ``expired``).

        Whether it was used already, and whether the candidate still waits for this answer, is
        for the caller to check against the store.
        """
        if not isinstance(token, str) or not token or len(token) > _MAX_TOKEN:
            raise LinkError("invalid", "the answer token is empty or too long")
        body, dot, signature = token.partition(".")
        if not dot or not body or not signature:
            raise LinkError("invalid", "the answer token is not of the form body.signature")
        try:
            given = _unb64(signature)
            raw = _unb64(body)
        except (ValueError, TypeError):
            raise LinkError("invalid", "the answer token is not base64url text") from None
        if not hmac.compare_digest(given, _unb64(self._sign(body))):
            raise LinkError("tampered", "the answer token's signature does not match")
        try:
            data = json.loads(raw.decode("utf-8"))
            if data.get("v") != _VERSION:
                raise ValueError("version")
            claims = LinkClaims(
                candidate_id=int(data["c"]),
                recipient=str(data["r"]),
                role=AnswerRole(data["o"]),
                expires_at=dt.datetime.fromtimestamp(int(data["e"]), tz=dt.timezone.utc),
                nonce=str(data["n"]),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise LinkError("invalid", "the answer token's contents cannot be read") from None
        if claims.expires_at <= now:
            raise LinkError(
                "expired",
                f"the answer link expired at {claims.expires_at:%Y-%m-%d %H:%M} UTC",
            )
        return claims


def check_public_url(value: object) -> str:
    """The service's public address, checked: ``https://`` (or ``http://`` to this machine),
    no query or fragment; returned without a trailing slash."""
    check_base_url(value, field="public_url")
    assert isinstance(value, str)
    parts = urllib.parse.urlsplit(value)
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            f"{value!r} has a query, fragment or credentials",
            field="public_url",
            hint="give the address people open, e.g. https://licenses.example.com",
        )
    return value.rstrip("/")


def answer_url(public_url: str, token: str) -> str:
    """The link a notice carries: ``{public_url}/answer/{token}``."""
    return f"{public_url.rstrip('/')}/answer/{token}"
