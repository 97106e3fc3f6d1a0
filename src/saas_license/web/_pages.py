"""The console's pages: overview, profiles, candidates, plans, audit, entitlements, sign-in.

Each action is a POST that goes through the same workspace calls as the CLI, with the
signed-in person as the actor of its audit entry.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._candidates.records import OPEN_STATES, CandidateState
from .._errors import SaasLicenseError
from .._notify import DeliveryStatus
from ..reports import activity_chart, opportunities_chart, savings_chart, utilisation_chart
from ._app import Console, markup, page
from ._auth import SESSION_COOKIE, PasswordAuth
from ._users import Role, WebUser

#: Plan items shown per page (a plan may list hundreds of thousands of seats).
PLAN_PAGE = 200

__all__ = ["routes"]

Form = Mapping[str, Any]

#: Candidate actions on the console: what the button says and the workspace call.
CANDIDATE_ACTIONS: dict[str, str] = {
    "keep": "Keep (user keeps the seat)",
    "forego": "Release (user gives it up)",
    "approve": "Approve reclaim",
    "decline": "Decline (let them keep it)",
    "resolve": "Resolve (ready)",
    "skip": "Skip (close, no reclaim)",
}


def _safe_next(value: str) -> str:
    """Only a path inside the app (never another site) after sign-in."""
    if value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def routes(c: Console) -> list[Route]:
    """The console's routes bound to ``c``."""

    def action(
        request: Request,
        user: WebUser | None,
        back: str,
        run: Callable[[str], str],
    ) -> Response:
        """Run one change as ``user``; back to ``back`` with its result or its error."""
        assert user is not None
        try:
            message = run(user.name)
        except SaasLicenseError as exc:
            return c.redirect(request, back, message=str(exc), error=True)
        return c.redirect(request, back, message=message)

    # -- sign-in -------------------------------------------------------------------------
    def signin_form(request: Request, user: WebUser | None, form: Form) -> Response:
        if not c.has_sign_in:
            return c.redirect(request, "/")
        return c.render(
            request, "signin.html", next=_safe_next(request.query_params.get("next", "/")), error=""
        )

    def signin(request: Request, user: WebUser | None, form: Form) -> Response:
        assert isinstance(c.auth, PasswordAuth)
        name = str(form.get("name", "")).strip()
        password = str(form.get("password", ""))
        nxt = _safe_next(str(form.get("next", "/")))
        address = request.client.host if request.client else ""
        wait = c.auth.throttle.wait(name, address)
        if wait > 0:
            minutes = int(wait // 60) + 1
            return c.render(
                request,
                "signin.html",
                status=429,
                next=nxt,
                error=f"Too many failed attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            )
        found = c.users.check(name, password)
        if found is None:
            c.auth.throttle.failed(name, address)
            return c.render(
                request, "signin.html", status=401, next=nxt, error="Wrong name or password."
            )
        c.auth.throttle.succeeded(name)
        c.ws._audit("web.signed_in", "web_user", found.name, None, None, actor=found.name)
        return c.start_session(request, found, nxt)

    def signout(request: Request, user: WebUser | None, form: Form) -> Response:
        response = c.redirect(request, "/signin" if c.has_sign_in else "/")
        response.delete_cookie(SESSION_COOKIE, path=request.scope.get("root_path", "") or "/")
        return response

    # -- overview ------------------------------------------------------------------------
    def overview(request: Request, user: WebUser | None, form: Form) -> Response:
        ws = c.ws
        result = ws.finance.reconcile()
        charts = [
            ("Utilisation per software model", markup(utilisation_chart(result.models))),
            ("Days since last activity (counted seats)", markup(activity_chart(result.activity))),
            ("Savings per year", markup(savings_chart(result.models))),
            ("Top reclaim candidates", markup(opportunities_chart(result.opportunities))),
        ]
        states = Counter(cand.state.value for cand in ws.candidates.query(states=set(OPEN_STATES)))
        totals = result.totals()
        return c.render(
            request,
            "overview.html",
            user=user,
            charts=charts,
            states=sorted(states.items()),
            totals=totals,
            compliant=result.compliant,
            verification=ws.audit.verify(),
            profiles=ws.profiles.all(),
            pending=len(ws.outbox.query(status=DeliveryStatus.PENDING)),
            service=ws.store.get_meta("service.last_tick"),
        )

    # -- profiles ------------------------------------------------------------------------
    def profiles(request: Request, user: WebUser | None, form: Form) -> Response:
        ws = c.ws
        rows = [
            {
                "profile": p,
                "schedules": ws.jobs.schedules(p.name),
                "last": next(iter(ws.jobs.query(p.name, limit=1)), None),
            }
            for p in ws.profiles.all()
        ]
        return c.render(request, "profiles.html", user=user, rows=rows)

    def profile_action(request: Request, user: WebUser | None, form: Form) -> Response:
        name = request.path_params["name"]
        verb = request.path_params["verb"]
        ws = c.ws

        def run(actor: str) -> str:
            if verb == "validate":
                report = ws.profiles.validate(name, actor=actor)
                checks = "; ".join(
                    f"{ch.process.value}: {'ok' if ch.ok else 'failed — ' + ch.message}"
                    for ch in report.checks
                )
                return f"Validated {name}: {checks}"
            if verb == "publish":
                ws.profiles.publish(name, actor=actor)
                return f"Published {name}: its daily jobs are scheduled."
            if verb == "run":
                ws._audit(
                    "profile.run_requested", "profile", name, None, None, profile=name, actor=actor
                )
                ran = ws.jobs.run(name, trigger=f"console:{actor}")
                failed = [j for j in ran.jobs if j.error]
                if failed:
                    raise _Failed(f"Run of {name} finished with errors: {failed[0].error}")
                return f"Ran {name}: " + ", ".join(
                    f"{j.process} {j.status.value}" for j in ran.jobs
                )
            raise _Failed(f"unknown action {verb!r}")

        return action(request, user, "/profiles", run)

    # -- candidates ----------------------------------------------------------------------
    def candidates(request: Request, user: WebUser | None, form: Form) -> Response:
        ws = c.ws
        q = request.query_params
        profile = q.get("profile") or None
        state = q.get("state", "open")
        text = q.get("q", "").strip().lower()
        if state == "open":
            states: set[CandidateState] | None = set(OPEN_STATES)
        elif state == "all":
            states = None
        else:
            try:
                states = {CandidateState(state)}
            except ValueError:
                states = set(OPEN_STATES)
                state = "open"
        found = ws.candidates.query(profile, states=states)
        if text:
            found = [
                x
                for x in found
                if text in x.user_principal_name.lower()
                or text in (x.software_model or "").lower()
                or text in x.identifier.lower()
            ]
        limit = 500
        return c.render(
            request,
            "candidates.html",
            user=user,
            candidates=found[:limit],
            more=max(len(found) - limit, 0),
            total=len(found),
            profiles=[p.name for p in ws.profiles.all()],
            states=[s.value for s in CandidateState],
            chosen={"profile": profile or "", "state": state, "q": q.get("q", "")},
            actions=CANDIDATE_ACTIONS,
        )

    def candidate(request: Request, user: WebUser | None, form: Form) -> Response:
        ws = c.ws
        try:
            found = ws.candidates.get(int(request.path_params["cid"]))
        except SaasLicenseError:
            return c.render(request, "missing.html", status=404, user=user, what="candidate")
        return c.render(
            request,
            "candidate.html",
            user=user,
            cand=found,
            history=ws.candidates.history(found.id or 0),
            actions=CANDIDATE_ACTIONS,
        )

    def _act(cid: int, verb: str, actor: str, note: str) -> None:
        cands = c.ws.candidates
        if verb == "keep":
            cands.keep(cid, actor=actor, note=note)
        elif verb == "forego":
            cands.forego(cid, actor=actor, note=note)
        elif verb == "approve":
            cands.approve(cid, actor=actor, note=note)
        elif verb == "decline":
            cands.decline(cid, actor=actor, note=note)
        elif verb == "resolve":
            cands.resolve(cid, actor=actor, note=note)
        elif verb == "skip":
            cands.skip(cid, actor=actor, note=note)
        else:
            raise _Failed(f"unknown action {verb!r}")

    def candidate_action(request: Request, user: WebUser | None, form: Form) -> Response:
        cid = int(request.path_params["cid"])
        verb = str(form.get("action", ""))
        note = str(form.get("note", ""))[:500]

        def run(actor: str) -> str:
            _act(cid, verb, actor, note)
            return f"Candidate {cid}: {verb} done; now {c.ws.candidates.get(cid).state.value}."

        return action(request, user, f"/candidates/{cid}", run)

    def candidates_bulk(request: Request, user: WebUser | None, form: Form) -> Response:
        assert user is not None
        verb = str(form.get("action", ""))
        note = str(form.get("note", ""))[:500]
        getlist = getattr(form, "getlist", None)
        raw = getlist("ids") if getlist else []
        back = "/candidates?" + str(form.get("back", ""))
        if verb not in CANDIDATE_ACTIONS:
            return c.redirect(request, back, message=f"unknown action {verb!r}", error=True)
        ids = []
        for value in raw:
            try:
                ids.append(int(value))
            except ValueError:
                continue
        if not ids:
            return c.redirect(request, back, message="Select at least one candidate.", error=True)
        done, failed = 0, []
        for cid in ids:
            try:
                _act(cid, verb, user.name, note)
                done += 1
            except SaasLicenseError as exc:
                failed.append(f"{cid}: {exc}")
        message = f"{verb}: {done} of {len(ids)} candidates done."
        if failed:
            message += " Not done — " + "; ".join(failed[:5]) + (" …" if len(failed) > 5 else "")
        return c.redirect(request, back, message=message, error=bool(failed))

    # -- plans ---------------------------------------------------------------------------
    def plans(request: Request, user: WebUser | None, form: Form) -> Response:
        ws = c.ws
        made = ws.audit.query(action="plan.created", limit=20, last=True)
        return c.render(
            request,
            "plans.html",
            user=user,
            profiles=[p for p in ws.profiles.all() if p.is_published],
            made=list(reversed(made)),
            actions=list(reversed(ws.plans.actions()))[:30],
        )

    def plan_create(request: Request, user: WebUser | None, form: Form) -> Response:
        assert user is not None
        name = str(form.get("profile", ""))
        try:
            plan = c.ws.plans.create(name)
        except SaasLicenseError as exc:
            return c.redirect(request, "/plans", message=str(exc), error=True)
        c.ws._audit(
            "plan.created",
            "plan",
            plan.id,
            None,
            {"reclaims": len(plan.reclaims), "notices": len(plan.notices), "held": len(plan.held)},
            profile=name,
            actor=user.name,
        )
        return c.redirect(request, f"/plans/{plan.id}", message=f"Plan {plan.id} made (dry run).")

    def plan_view(request: Request, user: WebUser | None, form: Form) -> Response:
        try:  # the head and counts; the items are read a page at a time
            plan = c.ws.plans.get(request.path_params["pid"])
        except SaasLicenseError:
            return c.render(request, "missing.html", status=404, user=user, what="plan")
        expired = plan.expires_at is not None and plan.expires_at <= c.ws.clock()
        try:
            start = max(0, int(request.query_params.get("from", "0")))
        except ValueError:
            start = 0
        start = min(start, max(0, len(plan) - 1))
        return c.render(
            request,
            "plan.html",
            user=user,
            plan=plan,
            items=list(plan.items[start : start + PLAN_PAGE]),
            held=list(plan.held[:PLAN_PAGE]),
            start=start,
            page=PLAN_PAGE,
            applied_at=plan.applied_at,
            expired=expired,
            savings=plan.savings_by_currency,
        )

    def plan_apply(request: Request, user: WebUser | None, form: Form) -> Response:
        pid = request.path_params["pid"]
        raw = str(form.get("cap", "")).strip()
        try:
            cap = int(raw)
            if cap < 1:
                raise ValueError
        except ValueError:
            return c.redirect(
                request,
                f"/plans/{pid}",
                message="Give a cap: the most seats this apply may reclaim (a whole number, at least 1).",
                error=True,
            )
        if str(form.get("confirm", "")) != "yes":
            return c.redirect(
                request, f"/plans/{pid}", message="Tick the confirmation box to apply.", error=True
            )

        def run(actor: str) -> str:
            report = c.ws.plans.apply(pid, cap=cap, actor=actor)
            counts = (
                ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items())) or "nothing to do"
            )
            halted = f" Halted: {report.halted}." if report.halted else ""
            return f"Applied plan {pid} (cap {cap}): {counts}.{halted}"

        return action(request, user, f"/plans/{pid}", run)

    # -- audit ---------------------------------------------------------------------------
    def audit(request: Request, user: WebUser | None, form: Form) -> Response:
        ws = c.ws
        profile = request.query_params.get("profile") or None
        prefix = request.query_params.get("action") or None
        entries = ws.audit.query(profile=profile, action=prefix, limit=200, last=True)
        return c.render(
            request,
            "audit.html",
            user=user,
            entries=list(reversed(entries)),
            verification=ws.audit.verify(),
            chosen={"profile": profile or "", "action": prefix or ""},
        )

    # -- entitlements --------------------------------------------------------------------
    def entitlements(request: Request, user: WebUser | None, form: Form) -> Response:
        ws = c.ws
        return c.render(
            request,
            "entitlements.html",
            user=user,
            entitlements=ws.finance.entitlements(),
            models=[m.name for m in ws.subscriptions.models()],
            today=ws.clock().date().isoformat(),
        )

    def entitlement_add(request: Request, user: WebUser | None, form: Form) -> Response:
        def run(actor: str) -> str:
            fields = {
                k: str(form.get(k, "")).strip()
                for k in (
                    "software_model",
                    "purchased_rights",
                    "unit_cost",
                    "currency",
                    "period",
                    "start",
                    "end",
                    "name",
                )
            }
            added = c.ws.finance.add_entitlement(
                fields["software_model"],
                # the record's converter reads and checks the text, naming the field
                purchased_rights=cast(int, fields["purchased_rights"]),
                unit_cost=fields["unit_cost"],
                currency=fields["currency"],
                period=fields["period"] or "annually",
                start=fields["start"],
                end=fields["end"] or None,
                name=fields["name"],
                actor=actor,
            )
            return f"Added entitlement {added.id} for {added.software_model}."

        return action(request, user, "/entitlements", run)

    def entitlement_retire(request: Request, user: WebUser | None, form: Form) -> Response:
        eid = int(request.path_params["eid"])

        def run(actor: str) -> str:
            c.ws.finance.retire_entitlement(eid, actor=actor)
            return f"Retired entitlement {eid}."

        return action(request, user, "/entitlements", run)

    viewer, approver, admin, anyone = Role.VIEWER, Role.APPROVER, Role.ADMIN, None
    return [
        Route("/signin", page(c, anyone)(signin_form), methods=["GET"]),
        Route("/signin", page(c, anyone)(signin), methods=["POST"]),
        Route("/signout", page(c, anyone)(signout), methods=["POST"]),
        Route("/", page(c, viewer)(overview), methods=["GET"]),
        Route("/profiles", page(c, viewer)(profiles), methods=["GET"]),
        Route("/profiles/{name}/{verb}", page(c, admin)(profile_action), methods=["POST"]),
        Route("/candidates", page(c, viewer)(candidates), methods=["GET"]),
        Route("/candidates/bulk", page(c, approver)(candidates_bulk), methods=["POST"]),
        Route("/candidates/{cid:int}", page(c, viewer)(candidate), methods=["GET"]),
        Route("/candidates/{cid:int}", page(c, approver)(candidate_action), methods=["POST"]),
        Route("/plans", page(c, viewer)(plans), methods=["GET"]),
        Route("/plans", page(c, admin)(plan_create), methods=["POST"]),
        Route("/plans/{pid}", page(c, viewer)(plan_view), methods=["GET"]),
        Route("/plans/{pid}/apply", page(c, admin)(plan_apply), methods=["POST"]),
        Route("/audit", page(c, viewer)(audit), methods=["GET"]),
        Route("/entitlements", page(c, viewer)(entitlements), methods=["GET"]),
        Route("/entitlements", page(c, admin)(entitlement_add), methods=["POST"]),
        Route(
            "/entitlements/{eid:int}/retire", page(c, admin)(entitlement_retire), methods=["POST"]
        ),
    ]


class _Failed(SaasLicenseError):
    """An action the console could not do (shown on the page)."""
