"""The answer pages behind the links in notices: GET shows the seat and the choices and changes
nothing (mail scanners follow links); only the POST, with its CSRF token, records the answer.

A wrong, tampered, expired, used or settled link gets a page that says so and changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .._errors import ConfigError
from .._links import LinkError
from ._app import Console, page
from ._users import WebUser

__all__ = ["routes"]

#: The status of the page for each reason a link cannot be used.
STATUS = {"invalid": 404, "tampered": 404, "expired": 410, "used": 410, "wrong_state": 409}


def routes(c: Console) -> list[Route]:
    """The answer routes bound to ``c``."""

    def refused(request: Request, exc: LinkError) -> Response:
        return c.render(
            request,
            "answer_refused.html",
            status=STATUS.get(exc.reason, 400),
            message=exc.user_message,
        )

    def show(request: Request, user: WebUser | None, form: Mapping[str, Any]) -> Response:
        token = request.path_params["token"]
        try:
            view = c.ws.answers.open(token)
        except LinkError as exc:
            return refused(request, exc)
        wanted = request.query_params.get("choice", "")
        # the link's choice (``?choice=keep``) is the first, main button; the others follow
        choices = sorted(view.choices, key=lambda ch: ch.value != wanted)
        return c.render(request, "answer.html", view=view, token=token, choices=choices)

    def submit(request: Request, user: WebUser | None, form: Mapping[str, Any]) -> Response:
        token = request.path_params["token"]
        choice = str(form.get("choice", ""))
        note = str(form.get("note", ""))[:500]
        try:
            outcome = c.ws.answers.submit(token, choice, note=note)
        except LinkError as exc:
            return refused(request, exc)
        except ConfigError as exc:
            try:
                view = c.ws.answers.open(token)
            except LinkError as again:
                return refused(request, again)
            return c.render(
                request,
                "answer.html",
                status=400,
                view=view,
                token=token,
                choices=list(view.choices),
                error=exc.message,
            )
        return c.render(request, "answer_done.html", outcome=outcome)

    return [
        Route("/answer/{token}", page(c, None)(show), methods=["GET"]),
        Route("/answer/{token}", page(c, None)(submit), methods=["POST"]),
    ]
