"""``python -m benchmarks.notices``: what composing answerable notices costs, against a floor.

For ``--notices`` notices of two seats each, two figures (median of ``--repeats`` passes):

- **floor**: the least any notifier must do — an f-string body, one HMAC-SHA256 per seat, and
  the ``EmailMessage`` of the text;
- **ours**: ``compose_notice`` (subject, text and HTML from the built-in templates, values
  escaped) with a signed answer link per seat (:class:`LinkSigner`), then ``build_message``
  (text + HTML alternative).

Printed: both times, per-notice microseconds and ours/floor (target: within 5x — templates,
escaping and an HTML part are the extra work). Then ``verify`` per token against the floor of
one HMAC.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import statistics
import time
from email.message import EmailMessage

from saas_license._candidates.notices import compose_notice
from saas_license._candidates.records import CandidateState, RemovalCandidate
from saas_license._links import AnswerRole, LinkSigner, answer_url
from saas_license._notify import Notification, NotificationKind
from saas_license._secrets import Secret
from saas_license.email import NoticeTemplates, build_message

NOW = dt.datetime(2026, 6, 15, 9, 0, tzinfo=dt.timezone.utc)
KEY = "k" * 43


def _candidates(i: int) -> list[RemovalCandidate]:
    return [
        RemovalCandidate(
            subscription_id=2 * i + j,
            profile="aha",
            external_user_id=str(i),
            user_principal_name=f"user{i}@example.com",
            identifier=f"seat-{j}",
            software_model=("Aha! Roadmaps", "Aha! Develop")[j],
            state=CandidateState.AWAITING_USER,
            inactive_days=90,
            last_activity=NOW - dt.timedelta(days=90),
            opened_at=NOW,
            respond_by=NOW + dt.timedelta(days=5),
            id=2 * i + j + 1,
        )
        for j in range(2)
    ]


def _floor(batches: list[list[RemovalCandidate]]) -> None:
    for cands in batches:
        links = [
            hmac.new(
                KEY.encode(), f"{c.id}:{c.user_principal_name}".encode(), hashlib.sha256
            ).hexdigest()
            for c in cands
        ]
        msg = EmailMessage()
        msg["To"] = cands[0].user_principal_name
        msg["Subject"] = f"Your seats will be reclaimed on {NOW:%Y-%m-%d}"
        msg.set_content(
            f"Hello {cands[0].user_principal_name},\n"
            + "".join(
                f"- {c.software_model}: https://x.test/answer/{lk}\n"
                for c, lk in zip(cands, links, strict=True)
            )
        )
        bytes(msg)


def _ours(
    batches: list[list[RemovalCandidate]], signer: LinkSigner, templates: NoticeTemplates
) -> list[str]:
    tokens = []
    for cands in batches:
        links = {}
        for c in cands:
            token = signer.issue(
                candidate_id=c.id or 0,
                recipient=c.user_principal_name,
                role=AnswerRole.HOLDER,
                expires_at=c.respond_by or NOW,
            )
            tokens.append(token)
            links[c.id or 0] = answer_url("https://licenses.example.com", token)
        notice = compose_notice(
            NotificationKind.RECLAIM_NOTICE, cands, templates=templates, links=links
        )
        n = Notification(
            kind=NotificationKind.RECLAIM_NOTICE,
            recipient=cands[0].user_principal_name,
            subject=notice.subject,
            body=notice.text,
            html=notice.html,
            created_at=NOW,
            id=1,
        )
        bytes(build_message(n, "licenses@example.com"))
    return tokens


def _median(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> None:
    """Measure and print the floor and our notice composition, and token verification."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    batches = [_candidates(i) for i in range(args.notices)]
    signer, templates = LinkSigner(Secret(KEY)), NoticeTemplates()
    tokens = _ours(batches[:10], signer, templates)  # warm the template cache
    floor = _median(lambda: _floor(batches), args.repeats)
    ours = _median(lambda: _ours(batches, signer, templates), args.repeats)
    tokens = _ours(batches, signer, templates)
    verify = _median(lambda: [signer.verify(t, now=NOW) for t in tokens], args.repeats)
    mac_floor = _median(
        lambda: [hmac.new(KEY.encode(), t.encode(), hashlib.sha256).digest() for t in tokens],
        args.repeats,
    )
    figures = {
        "notices": args.notices,
        "floor_s": round(floor, 3),
        "ours_s": round(ours, 3),
        "per_notice_us": round(ours / args.notices * 1e6, 1),
        "ratio": round(ours / floor, 2),
        "verify_per_token_us": round(verify / len(tokens) * 1e6, 1),
        "verify_ratio": round(verify / mac_floor, 2),
        "targets": {"ratio": 5.0},
    }
    if args.json:
        print(json.dumps(figures))
        return
    print(
        f"{args.notices} notices of 2 seats: floor {floor:.3f} s, ours {ours:.3f} s "
        f"({figures['per_notice_us']} us a notice), ratio {figures['ratio']}x (target <= 5x)"
    )
    print(
        f"verify: {figures['verify_per_token_us']} us a token, {figures['verify_ratio']}x one bare HMAC"
    )
    print("target met" if figures["ratio"] <= 5.0 else "target NOT met")


if __name__ == "__main__":
    main()
