"""The ``saas-license`` command line.

Every error ends as one line on stderr and a documented exit code (2 bad input, 1 anything else,
75 busy: try again later), whichever command raised it; ``-vv`` adds the traceback.
"""

from __future__ import annotations

import atexit
import datetime as dt
import gc
import logging
import os
import sqlite3
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from .. import __version__
from .._errors import ConfigError, SaasLicenseError
from .._paths import ENV_WORKSPACE, default_workspace_path
from ._output import safe

if TYPE_CHECKING:
    from .._workspace import Workspace

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BUSY",
    "EXIT_FAILURE",
    "cli",
    "console",
    "exit_code_for",
    "main",
]

#: Exit codes: bad input (usage, config, rules, values), any other failure, busy (EX_TEMPFAIL).
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2
EXIT_BUSY = 75

#: Commands that may create the workspace they are pointed at; every other command needs an
#: existing one (or ``--create``), so a mistyped ``--workspace`` is an error, not a new file.
CREATING_COMMANDS = frozenset({"demo", "alias add", "profile create"})


def exit_code_for(exc: BaseException) -> int:
    """The exit code of an exception: its ``exit_code`` when the error tree gives one (75 for a
    busy profile or workspace), 2 for bad input, 1 for everything else."""
    code = getattr(exc, "exit_code", None)
    if isinstance(code, int) and not isinstance(code, bool):
        return code
    if _database_locked(exc):
        return EXIT_BUSY
    if isinstance(exc, ConfigError):
        return EXIT_BAD_INPUT
    if isinstance(exc, (FileNotFoundError, NotADirectoryError, IsADirectoryError)):
        return EXIT_BAD_INPUT
    return EXIT_FAILURE


def _database_locked(exc: BaseException) -> bool:
    """A raw ``database is locked`` that escaped the store: the busy error, not a bug."""
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def _one_line(exc: BaseException) -> str:
    """The error as one line a person can act on (never a traceback, never raw control bytes)."""
    if isinstance(exc, SaasLicenseError):
        text = str(exc)
    elif _database_locked(exc):
        text = "the workspace is locked by another saas-license process — try again in a moment"
    elif isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        text = f"{exc.strerror}{where}"
    else:
        text = (
            f"unexpected {type(exc).__name__}: {exc} — run again with -vv for the traceback "
            "and report it"
        )
    return safe(" ".join(text.split()))


#: Pins the clock every command reads (an ISO-8601 instant with a zone): the same demo, report
#: or test gives the same numbers on any day.
ENV_NOW = "SAAS_LICENSE_NOW"


def _pinned_clock() -> Callable[[], dt.datetime] | None:
    """The clock ``SAAS_LICENSE_NOW`` pins, or None for the real one."""
    raw = os.environ.get(ENV_NOW, "").strip()
    if not raw:
        return None
    from .._time import parse_instant

    try:
        instant = parse_instant(raw)
    except ValueError:
        raise ConfigError(
            f"{raw!r} is not an ISO-8601 instant with a time zone",
            field=ENV_NOW,
            hint="use e.g. 2026-11-30T00:00:00Z, or unset it for the real clock",
        ) from None
    return lambda: instant


class _State:
    """Lazily opened workspace shared by the subcommands of one invocation."""

    def __init__(self, workspace: Path | str | None, *, create: bool = False) -> None:
        self.workspace_path = workspace
        self.create = create
        self._ws: Workspace | None = None

    def open(self) -> Workspace:
        """The workspace; created only by a creating command or with ``--create``."""
        if self._ws is None:
            ctx = click.get_current_context(silent=True)
            command = " ".join(ctx.command_path.split()[1:]) if ctx is not None else ""
            create = self.create or command in CREATING_COMMANDS
            from .._workspace import Workspace

            pinned = _pinned_clock()
            self._ws = (
                Workspace.open(self.workspace_path, create=create)
                if pinned is None
                else Workspace.open(self.workspace_path, create=create, clock=pinned)
            )
            _started()
        return self._ws

    def close(self) -> None:
        if self._ws is not None:
            self._ws.close()


def _usage_error(exc: click.UsageError, ctx: click.Context) -> NoReturn:
    """A usage error as one line naming the option, then exit 2 (a bare group still shows its
    help, as click does)."""
    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        raise exc
    where = exc.ctx.command_path if exc.ctx is not None else ctx.command_path
    click.echo(f"error: {safe(exc.format_message())} — see `{where} --help`", err=True)
    ctx.exit(exc.exit_code)


#: Each top-level command: the ``_cmd_*`` module that defines it and the first paragraph of its
#: help, so ``saas-license --help`` lists every command without importing any (a test keeps
#: these in step with the commands themselves).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "alias": (
        "_cmd_aliases",
        "Connection aliases: where a vendor account is and how to authenticate.",
    ),
    "approvers": (
        "_cmd_settings",
        'Approver groups: who decides a "keep" when neither the rule nor the seat names someone.',
    ),
    "auto-reclaim": (
        "_cmd_settings",
        "Show or change PROFILE's automatic reclaim (off by default), and what it would do now.",
    ),
    "audit": (
        "_cmd_core",
        "The append-only, hash-chained audit log (the newest --limit entries, oldest first), and whether its chains verify; `audit verify` checks them in full.",
    ),
    "candidates": (
        "_cmd_core",
        "List removal candidates (open ones unless --all or --state), or act on them.",
    ),
    "connect": (
        "_cmd_connect",
        "Connect PROFILE to its vendor account: OAuth2 for a person, or an API key.",
    ),
    "demo": (
        "_cmd_demo",
        "Run one full daily cycle against a spoke's bundled sandbox and summarise it (dry run).",
    ),
    "directory": (
        "_cmd_directory",
        "The user directory: who each seat's user is (person, manager, department, cost centre, employment status). Without a subcommand: show it.",
    ),
    "entitlements": (
        "_cmd_finance",
        "Entitlements: rights bought per software model, with unit cost and dates.",
    ),
    "jobs": (
        "_cmd_core",
        "Recent job results, newest first (or the schedule with --scheduled).",
    ),
    "models": (
        "_cmd_models",
        "Software models with their seat counts, and unrecognized identifiers.",
    ),
    "outbox": (
        "_cmd_outbox",
        "Notifications: pending ones wait here until a notifier plugin delivers them.",
    ),
    "profile": (
        "_cmd_core",
        "Integration profiles: one vendor account each.",
    ),
    "publish": (
        "_cmd_core",
        "Publish a validated profile so its daily jobs run.",
    ),
    "reclaim": (
        "_cmd_core",
        "Plan reclaims for a profile (dry run, the default) or apply a plan made before.",
    ),
    "reconcile": (
        "_cmd_finance",
        "Reconcile seats against entitlements: owned, used, available, true-up, savings.",
    ),
    "remediation": (
        "_cmd_remediation",
        "Remediation options of the last saved reconciliation, with their status; act on them.",
    ),
    "report": (
        "_cmd_finance",
        "Reconcile now and write the report: HTML with charts, and/or JSON and CSV tables.",
    ),
    "rules": (
        "_cmd_rules",
        "Exclusion rules (keep seats out of cost and/or reclaim) and reclamation rules (when a seat is idle and how it is taken back). Without a subcommand: list them.",
    ),
    "run": (
        "_cmd_core",
        "Run the daily cycle (download, activity, evaluate, plan; dry run) of one profile, of every due profile (--due: for cron or a systemd timer) or of all published ones (--all).",
    ),
    "sandbox": (
        "_cmd_sandbox",
        "Fake vendor accounts offered by the installed spokes (on 127.0.0.1).",
    ),
    "serve": (
        "_cmd_serve",
        "Run the service: the scheduler (due runs, deadlines, automatic reclaims, notices, unknown outcomes, the weekly reconciliation) and the web console with the answer pages, on one port, until SIGTERM.",
    ),
    "settings": (
        "_cmd_settings",
        "Workspace settings: public_url (answer links), notice templates, SMTP.",
    ),
    "spoke": (
        "_cmd_spoke",
        "Tools for spoke authors: start a new spoke project.",
    ),
    "spokes": (
        "_cmd_core",
        "List installed spokes with the vendor permissions each process needs.",
    ),
    "subscriptions": (
        "_cmd_subscriptions",
        "List seats (subscriptions) with their inactive days and exclusions, filtered by profile, software model, inactivity and exclusion; streamed, so any number of seats fits.",
    ),
    "undo": (
        "_cmd_core",
        "Undo a completed reclaim (within the undo window), through the profile's spoke.",
    ),
    "users": (
        "_cmd_serve",
        "People who may sign in to the web console, with their role (admin, approver, viewer).",
    ),
    "validate": (
        "_cmd_core",
        "Check a profile's connection for each process (changes nothing at the vendor).",
    ),
    "workspace": (
        "_cmd_workspace",
        "The workspace as a whole: copy it between SQLite and PostgreSQL.",
    ),
}


class _Cli(click.Group):
    """The root group: maps every exception a command raises to one line and an exit code, and
    imports each command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in LAZY_COMMANDS:
            import importlib

            importlib.import_module(f"{__name__}.{LAZY_COMMANDS[cmd_name][0]}")
        command = self.commands.get(cmd_name)
        if command is not None:
            _add_workspace_options(command)  # idempotent: one module registers several commands
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from :data:`LAZY_COMMANDS` (no command module imported)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                rows.append((name, loaded.get_short_help_str(limit)))
            else:
                stub = click.Command(name, help=LAZY_COMMANDS[name][1])
                rows.append((name, stub.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            _usage_error(exc, ctx)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            _usage_error(exc, ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as Unix tools do; point stdout at
            # /dev/null so the interpreter's final flush does not complain either.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)
        except Exception as exc:
            if ctx.params.get("verbose", 0) >= 2:
                click.echo(traceback.format_exc().rstrip(), err=True)
            click.echo(f"error: {_one_line(exc)}", err=True)
            ctx.exit(exit_code_for(exc))


class _WorkspaceType(click.ParamType):  # type: ignore[type-arg]
    """A workspace file path, or a ``postgresql://`` URL kept verbatim (a Path would eat ``//``)."""

    name = "path|url"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        from .._store._pgurl import is_postgres_url

        if isinstance(value, str) and is_postgres_url(value):
            return value
        return click.Path(dir_okay=False, path_type=Path).convert(value, param, ctx)


_WORKSPACE = _WorkspaceType()


def _late_workspace(ctx: click.Context, _param: click.Parameter, value: Path | str | None) -> None:
    """``--workspace`` given after the subcommand: the same setting as before it."""
    if value is not None:
        state = ctx.find_object(_State)
        if state is not None:
            state.workspace_path = value


def _late_create(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        state = ctx.find_object(_State)
        if state is not None:
            state.create = True


def _workspace_options() -> list[click.Option]:
    """Hidden copies of ``--workspace``/``--create`` for every subcommand (documented once)."""
    return [
        click.Option(
            ["--workspace"],
            type=_WORKSPACE,
            expose_value=False,
            hidden=True,
            callback=_late_workspace,
        ),
        click.Option(
            ["--create"], is_flag=True, expose_value=False, hidden=True, callback=_late_create
        ),
    ]


@click.group(
    cls=_Cli,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="saas-license")
@click.option(
    "--workspace",
    type=_WORKSPACE,
    envvar=ENV_WORKSPACE,
    show_envvar=True,
    help=f"Workspace database file or postgresql:// URL, before or after the subcommand [default: {default_workspace_path()}].",
)
@click.option(
    "--create",
    is_flag=True,
    help="Create the workspace if it does not exist (demo, alias add and profile create always may).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug and tracebacks).")
@click.pass_context
def cli(ctx: click.Context, workspace: Path | str | None, create: bool, verbose: int) -> None:
    """Find idle SaaS seats, plan their reclaim safely, and reconcile seats against purchases."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    state = _State(workspace, create=create)
    ctx.obj = state
    ctx.call_on_close(state.close)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: errors are one clear line on stderr and a documented exit code."""
    if "httpx" not in sys.modules:
        # httpx imports its own command line (httpx._main) whenever click is installed, and
        # with it pygments when that is (IPython brings it): ~5 ms a run that this process
        # never uses. Marked absent, httpx keeps its stub `main` instead.
        sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    try:
        code = cli.main(args=argv, prog_name="saas-license", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    if isinstance(code, int) and not isinstance(code, bool) and code:
        sys.exit(code)


def console() -> NoReturn:
    """The ``saas-license`` command: :func:`main`, then a quick exit.

    Once the command is done, its output flushed and the exit handlers run (logging, temporary
    files), the interpreter's own teardown is skipped (``os._exit``): freeing every module and
    object one by one costs a daily run tens of milliseconds and changes nothing on disk.
    Only when no other thread is alive, so nothing the command started is cut short; else, and
    on any other way out (an exception, Ctrl-C), the usual exit.
    """
    status: str | int | None = 0
    _start_up()
    try:
        main()
    except SystemExit as exc:
        status = exc.code
    if threading.active_count() > 1:
        sys.exit(status)
    if status is None:
        status = 0
    elif not isinstance(status, int):  # as the interpreter does with sys.exit("message")
        print(status, file=sys.stderr)
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed or broken stream: let the usual exit report it
        sys.exit(status)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(status)


#: The collector's thresholds before :func:`_start_up` raised them (None: not raised now).
_GC_THRESHOLDS: tuple[int, int, int] | None = None
#: Objects allocated between young collections while the command starts up.
_START_UP_GC_THRESHOLD = 100_000


def _start_up() -> None:
    """Collect garbage rarely while the command starts: importing it allocates ~10^5 objects
    (modules, classes, functions) and frees almost none, so the collector's young-generation
    passes (every 700 allocations, each now and then a full pass over all of them) find
    nothing; they cost a daily run ~3% of its CPU. :func:`_started` puts them back."""
    global _GC_THRESHOLDS
    if _GC_THRESHOLDS is None:
        _GC_THRESHOLDS = gc.get_threshold()
        gc.set_threshold(_START_UP_GC_THRESHOLD, *_GC_THRESHOLDS[1:])


def _started() -> None:
    """Start-up is over (the workspace is open): what it allocated is kept out of later full
    passes (``gc.freeze``) and the collector's thresholds are as they were."""
    global _GC_THRESHOLDS
    if _GC_THRESHOLDS is not None:
        gc.freeze()
        gc.set_threshold(*_GC_THRESHOLDS)
        _GC_THRESHOLDS = None


def _add_workspace_options(command: click.Command) -> None:
    names = {n for p in command.params for n in getattr(p, "opts", ())}
    for option in _workspace_options():
        if not names & set(option.opts):
            command.params.append(option)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_workspace_options(sub)
