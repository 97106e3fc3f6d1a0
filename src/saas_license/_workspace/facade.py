"""The Python API: a workspace is one store, its secrets, and the installed spokes."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import re
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, overload

from .._audit import AuditEntry
from .._errors import ConfigError
from .._evaluation import EvaluationPolicy
from .._finance import from_store as _finance
from .._finance.pricing import PriceBook
from .._paths import ENV_WORKSPACE, default_workspace_path
from .._plugins import SpokeRegistry
from .._secrets import SecretStore
from .._store import SqliteStore, Store
from .._store._pgurl import is_postgres_url, repair
from .._time import utcnow
from ..http import (
    HttpOptions,
)

if TYPE_CHECKING:
    from .answers import Answers
    from .approvals import Approvals
    from .audit import Audit
    from .candidates import Candidates
    from .directory import Directory
    from .finance import Finance
    from .jobs import Jobs
    from .outbox import Outbox
    from .plans import Plans
    from .profiles import Profiles
    from .rules import Rules
    from .settings import Settings
    from .subscriptions import Subscriptions

__all__ = ["Workspace", "check_workspace_path"]


def _given(path: str | os.PathLike[str] | None) -> str:
    """The workspace as given: ``path``, else ``$SAAS_LICENSE_WORKSPACE`` verbatim (a URL)."""
    if path is not None:
        return os.fspath(path)
    return os.environ.get(ENV_WORKSPACE, "")


_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/")  # "://", or ":/" once a Path ate a slash


def check_workspace_path(path: str | os.PathLike[str], *, create: bool) -> None:
    """Refuse a workspace path that cannot be one: a URL scheme no installed store supports,
    something that is not a regular file (``/dev/null``, a directory), or — unless ``create`` —
    a file that does not exist (with a "did you mean" from its directory)."""
    text = os.fspath(path)
    if text == ":memory:":
        return
    scheme = _URL.match(text)
    if scheme and scheme.group(1).lower() == "sqlite":
        raise ConfigError(
            f"{text!r} is a URL; a SQLite workspace is given by its file path",
            field="workspace",
            hint="drop the sqlite:// prefix, e.g. --workspace ~/licenses.db",
        )
    if scheme and is_postgres_url(text):
        return
    if scheme:
        raise ConfigError(
            f"{scheme.group(1)!r} workspaces are not supported by the installed stores",
            field="workspace",
            hint="give the path of a SQLite workspace file, or a postgresql:// URL",
        )
    target = Path(text).expanduser()
    if target.exists() and not target.is_file():
        kind = "a directory" if target.is_dir() else "not a regular file"
        raise ConfigError(
            f"{text} is {kind}, not a workspace file",
            field="workspace",
            hint="give the path of a workspace database file, e.g. ~/licenses.db",
        )
    if not create and not target.exists():
        raise ConfigError(
            f"no workspace at {text}",
            field="workspace",
            hint=_did_you_mean(target),
        )


def _did_you_mean(target: Path) -> str:
    create = "create it (CLI `--create`, `demo`, `alias add` or `profile create`; Python `Workspace.open(path, create=True)`)"
    folder = target.parent
    if not folder.is_dir():
        return f"the directory {folder} does not exist; check the path, or {create}"
    try:
        names = [p.name for p in folder.iterdir() if p.is_file() and p.suffix in {".db", ".sqlite"}]
    except OSError:
        names = []
    import difflib  # only for a mistyped name

    close = difflib.get_close_matches(target.name, names, n=3, cutoff=0.5)
    if close:
        return "did you mean " + " or ".join(str(folder / n) for n in close) + f"? Or {create}"
    default = default_workspace_path()
    if default.exists() and default != target:
        return f"did you mean the default workspace {default}? Or {create}"
    return f"check the path, or {create}"


T = TypeVar("T")
_PART_LOCK = threading.Lock()


class _Part(Generic[T]):
    """A workspace part (``ws.profiles``, …): its class imported and the part made on first
    use, once per workspace even when threads ask at the same time; later reads are a plain
    instance attribute."""

    def __init__(self, module: str, name: str) -> None:
        self._module, self._name, self._attr = module, name, ""

    def __set_name__(self, owner: type, attr: str) -> None:
        self._attr = attr

    @overload
    def __get__(self, ws: None, owner: type) -> _Part[T]: ...
    @overload
    def __get__(self, ws: Workspace, owner: type) -> T: ...
    def __get__(self, ws: Workspace | None, owner: type) -> _Part[T] | T:
        if ws is None:
            return self
        with _PART_LOCK:
            part: T | None = ws.__dict__.get(self._attr)
            if part is None:
                module = importlib.import_module(self._module, __package__)
                part = ws.__dict__[self._attr] = getattr(module, self._name)(ws)
        return part


class Workspace:
    """One workspace: open it, then work through its parts — ``ws.profiles``, ``ws.jobs``,
    ``ws.subscriptions``, ``ws.rules``, ``ws.candidates``, ``ws.plans``, ``ws.outbox``,
    ``ws.finance``, ``ws.audit``, ``ws.settings``, ``ws.approvals``, ``ws.answers``,
    ``ws.directory``. The workspace holds the shared state (store, secrets, spokes,
    clock, policy); each part holds the actions of one area.

    >>> ws = Workspace.open(":memory:")  # doctest: +SKIP
    """

    def __init__(
        self,
        store: Store,
        *,
        secrets: SecretStore,
        spokes: SpokeRegistry | None = None,
        http: HttpOptions | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        policy: EvaluationPolicy | None = None,
        path: Path | None = None,
    ) -> None:
        self.store = store
        self.secrets = secrets
        self.spokes = spokes if spokes is not None else SpokeRegistry()
        self.http = http or HttpOptions()
        self.clock = clock
        self.policy = policy or EvaluationPolicy()
        self.path = path
        #: The scratch directory of an in-memory workspace (its secrets), removed on close.
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        #: The URL a PostgreSQL workspace was opened with (it may hold a password: never shown).
        self._url: str | None = None
        self.prices: PriceBook = _finance.price_book_for(store, self.policy.timezone)

    # Each part is made (and its module imported) on first use: a daily run touches a few of
    # them, and importing the others (finance, directory, answers, …) is start-up it never uses.
    profiles: _Part[Profiles] = _Part(".profiles", "Profiles")
    subscriptions: _Part[Subscriptions] = _Part(".subscriptions", "Subscriptions")
    rules: _Part[Rules] = _Part(".rules", "Rules")
    jobs: _Part[Jobs] = _Part(".jobs", "Jobs")
    candidates: _Part[Candidates] = _Part(".candidates", "Candidates")
    plans: _Part[Plans] = _Part(".plans", "Plans")
    outbox: _Part[Outbox] = _Part(".outbox", "Outbox")
    finance: _Part[Finance] = _Part(".finance", "Finance")
    audit: _Part[Audit] = _Part(".audit", "Audit")
    settings: _Part[Settings] = _Part(".settings", "Settings")
    approvals: _Part[Approvals] = _Part(".approvals", "Approvals")
    answers: _Part[Answers] = _Part(".answers", "Answers")
    directory: _Part[Directory] = _Part(".directory", "Directory")

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str] | None = None,
        *,
        spokes: SpokeRegistry | None = None,
        http: HttpOptions | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        policy: EvaluationPolicy | None = None,
        create: bool = True,
    ) -> Workspace:
        """Open (creating if needed) the workspace at ``path`` (default: :func:`default_workspace_path`).

        With ``create=False`` a missing workspace is an error that suggests similar paths, so a
        mistyped path never silently starts an empty workspace. A ``postgresql://…`` URL opens a
        workspace shared by many workers (``pip install 'saas-license[postgres]'``; see
        ``docs/postgres.md``); any other URL is refused.
        Secrets live beside the database in ``<name>.secrets.json``, readable only by the owner.
        """
        if is_postgres_url(_given(path)):
            return cls._open_postgres(
                repair(_given(path)),
                spokes=spokes,
                http=http,
                clock=clock,
                policy=policy,
                create=create,
            )
        target = default_workspace_path() if path is None else Path(path)
        check_workspace_path(target, create=create)
        scratch: tempfile.TemporaryDirectory[str] | None = None
        if str(target) == ":memory:":
            # secrets of an in-memory workspace live in a scratch directory removed on close
            scratch = tempfile.TemporaryDirectory(prefix="saas-license-")
            secrets_path = Path(scratch.name) / "secrets.json"
            store: Store = SqliteStore(":memory:")
            resolved = None
        else:
            resolved = target.expanduser().resolve()
            store = SqliteStore(resolved)
            secrets_path = resolved.with_name(resolved.name + ".secrets.json")
        ws = cls(
            store,
            secrets=SecretStore(secrets_path),
            spokes=spokes,
            http=http,
            clock=clock,
            policy=policy,
            path=resolved,
        )
        ws._scratch = scratch
        return ws

    @classmethod
    def _open_postgres(
        cls,
        url: str,
        *,
        spokes: SpokeRegistry | None,
        http: HttpOptions | None,
        clock: Callable[[], dt.datetime],
        policy: EvaluationPolicy | None,
        create: bool,
    ) -> Workspace:
        """A workspace on PostgreSQL (``_store/_postgres/opening.py``: secrets, passwords, owner)."""
        from .._store._postgres.opening import open_postgres_store, secrets_path_for

        secrets = SecretStore(secrets_path_for(url))
        store = cast(Store, open_postgres_store(url, secrets, create=create))
        ws = cls(store, secrets=secrets, spokes=spokes, http=http, clock=clock, policy=policy)
        ws._url = url  # as given (to open it again, e.g. the service's scheduler); never shown
        return ws

    def __repr__(self) -> str:
        if self.path is None and hasattr(self.store, "url"):
            return f"Workspace(url={self.store.url!r})"
        return f"Workspace(path={str(self.path) if self.path else ':memory:'!r})"

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the store (and remove an in-memory workspace's scratch directory)."""
        self.store.close()
        if self._scratch is not None:
            self._scratch.cleanup()
            self._scratch = None

    def _audit(
        self,
        action: str,
        entity: str,
        entity_id: str | None,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        *,
        profile: str | None = None,
        actor: str = "user",
        detail: str = "",
    ) -> None:
        """Append one audit entry on its own; a change paired with its entry uses
        :func:`._change.changing` (both in one transaction)."""
        self.store.append_audit(
            AuditEntry(
                at=self.clock(),
                actor=actor,
                action=action,
                entity=entity,
                entity_id=entity_id,
                profile=profile,
                before=before,
                after=after,
                detail=detail,
            )
        )
