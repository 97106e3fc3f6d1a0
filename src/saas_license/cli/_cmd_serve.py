"""``saas-license serve`` (the scheduler and the web console on one port) and ``users`` (who may
sign in to the console)."""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
from typing import Any

import click

from .._errors import ConfigError
from . import cli
from ._cmd_core import _state, json_option
from ._output import echo_json, echo_table

#: Where ``users add`` and ``users password`` read a password when no terminal asks for it.
ENV_PASSWORD = "SAAS_LICENSE_USER_PASSWORD"  # noqa: S105 - a variable name, not a password

_ANSWER_PATH = re.compile(r"(/answer/)[A-Za-z0-9_.~=-]+")


class _RedactAnswerLinks(logging.Filter):
    """Keep answer-link tokens out of the access log (they let their holder answer once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _ANSWER_PATH.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args
            )
        return True


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--tick",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds between scheduler ticks.",
)
@click.option(
    "--web-only", is_flag=True, help="Serve the pages without the scheduler (another one runs it)."
)
@click.option(
    "--proxy-user-header",
    metavar="HEADER",
    help="Single sign-on: trust this header (e.g. X-Forwarded-User) from --trusted-proxy for the user's name.",
)
@click.option(
    "--trusted-proxy",
    multiple=True,
    default=("127.0.0.1", "::1"),
    show_default=True,
    help="Address of the reverse proxy (for --proxy-user-header and X-Forwarded-Proto).",
)
@click.option("--session-hours", default=8.0, show_default=True, type=click.FloatRange(min=0.1))
def serve_cmd(
    host: str,
    port: int,
    tick: float,
    web_only: bool,
    proxy_user_header: str | None,
    trusted_proxy: tuple[str, ...],
    session_hours: float,
) -> None:
    """Run the service: the scheduler (due runs, deadlines, automatic reclaims, notices, unknown
    outcomes, the weekly reconciliation) and the web console with the answer pages, on one port,
    until SIGTERM."""
    try:
        import uvicorn

        from ..web import PasswordAuth, ProxyHeaderAuth, create_app
    except ImportError as exc:
        raise ConfigError(
            f"the service needs the server extra ({exc.name} is not installed)",
            field="serve",
            hint="pip install 'saas-license[server]'",
        ) from None
    from .._service import Scheduler
    from .._workspace import Workspace

    ws = _state().open()
    # a file, or a PostgreSQL database (its URL as given, password and all, stays private)
    target = ws.path if ws.path is not None else getattr(ws, "_url", None)
    if target is None:
        raise ConfigError(
            "the service needs a workspace file, not an in-memory one",
            field="workspace",
            hint="give --workspace PATH (or a postgresql:// URL)",
        )
    auth: Any = (
        ProxyHeaderAuth(proxy_user_header, trusted=trusted_proxy)
        if proxy_user_header
        else PasswordAuth(session_hours=session_hours)
    )
    app = create_app(ws, auth=auth, trusted_proxies=tuple(trusted_proxy))
    logging.getLogger("uvicorn.access").addFilter(_RedactAnswerLinks())
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        proxy_headers=False,  # the app believes X-Forwarded-* from --trusted-proxy only
        server_header=False,
        log_level="info",
    )
    server = uvicorn.Server(config)
    # uvicorn handles SIGTERM/SIGINT while it runs and re-raises them once it has stopped, to
    # the handlers found before: make those harmless so the scheduler is stopped cleanly after
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    if web_only:
        click.echo(f"serving on http://{host}:{port} (web only: no scheduler)")
        server.run()
        return
    # the scheduler works on its own connection to the same workspace
    scheduler_ws = Workspace.open(
        target, create=False, clock=ws.clock, spokes=ws.spokes, http=ws.http
    )
    scheduler = Scheduler(scheduler_ws, interval=tick)
    try:
        with scheduler.hold():
            worker = threading.Thread(target=scheduler.loop, name="saas-license-scheduler")
            worker.start()
            click.echo(f"serving on http://{host}:{port} (scheduler: a tick every {tick:g} s)")
            try:
                server.run()  # returns on SIGTERM / SIGINT after finishing open requests
            finally:
                scheduler.stop()
                worker.join()
        click.echo("stopped")
    finally:
        scheduler_ws.close()


def _password(confirm: bool = True) -> str:
    found = os.environ.get(ENV_PASSWORD)
    if found:
        return found
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return value


@cli.group("users", invoke_without_command=True)
@json_option
@click.pass_context
def users_group(ctx: click.Context, as_json: bool) -> None:
    """People who may sign in to the web console, with their role (admin, approver, viewer)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..web._users import Users

    users = Users(_state().open()).all()
    if as_json:
        echo_json({"users": [{"name": u.name, "role": u.role.value} for u in users]})
        return
    echo_table(["name", "role"], [(u.name, u.role.value) for u in users])


@users_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["admin", "approver", "viewer"]),
    default="viewer",
    show_default=True,
)
@click.option(
    "--no-password", is_flag=True, help="Sign in only through a trusted proxy header (SSO)."
)
def users_add(name: str, role: str, no_password: bool) -> None:
    """Add a console user; the password comes from a prompt or $SAAS_LICENSE_USER_PASSWORD."""
    from ..web._users import Users

    users = Users(_state().open())
    user = users.add(name, role=role, password=None if no_password else _password())
    click.echo(f"added {user.name} ({user.role.value})")


@users_group.command("role")
@click.argument("name")
@click.argument("role", type=click.Choice(["admin", "approver", "viewer"]))
def users_role(name: str, role: str) -> None:
    """Change a user's role (their open sessions end)."""
    from ..web._users import Users

    user = Users(_state().open()).set_role(name, role)
    click.echo(f"{user.name} is now {user.role.value}")


@users_group.command("password")
@click.argument("name")
def users_password(name: str) -> None:
    """Set a user's password (their open sessions end)."""
    from ..web._users import Users

    Users(_state().open()).set_password(name, _password())
    click.echo(f"password of {name} changed")


@users_group.command("remove")
@click.argument("name")
def users_remove(name: str) -> None:
    """Remove a console user (their open sessions end)."""
    from ..web._users import Users

    Users(_state().open()).remove(name)
    click.echo(f"removed {name}")
