"""Finding spokes (entry points), loading them safely, and calling exactly one spoke's hooks."""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import ModuleType
from typing import Any, ClassVar, TypeVar

import attrs
import pluggy

from . import hookspecs
from ._entry_points import EntryPointLike
from ._entry_points import entry_points as find_entry_points
from ._errors import SaasLicenseError, SpokeError, SpokeNotFoundError
from ._sandbox import SandboxOffer
from ._spokes import ReclaimResult, SpokeContext, SpokeInfo, ValidationReport
from ._subscriptions import ActivityRecord, CurrentUser, Subscription, SubscriptionRecord

__all__ = [
    "NamedPlugins",
    "PluginProblem",
    "Spoke",
    "SpokeRegistry",
    "load_plugins",
    "make_plugin_manager",
]

log = logging.getLogger("saas_license.plugins")
T = TypeVar("T")

ENTRY_POINT_GROUP = "saas_license"
ENV_DISABLE = "SAAS_LICENSE_DISABLE_SPOKES"  # comma-separated spoke names to skip
ENV_STRICT = "SAAS_LICENSE_STRICT_SPOKES"  # "1": a spoke that fails to load is an error


def make_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager that knows the spoke hookspecs (no global state)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


@attrs.frozen(kw_only=True)
class PluginProblem:
    """A spoke that was found but could not be loaded; the others keep working."""

    name: str
    target: str
    error: str


def load_plugins(
    entry_points: Iterable[EntryPointLike],
    *,
    kind: str,
    register: Callable[[object, str], object],
    strict: bool,
    disabled: frozenset[str] | set[str] = frozenset(),
) -> list[PluginProblem]:
    """Load and register each entry point safely (spokes and notifiers alike): one that fails to
    import is logged and returned as a :class:`PluginProblem` (raised as a :class:`SpokeError`
    when ``strict``), so one broken plugin never stops the others."""
    problems: list[PluginProblem] = []
    for ep in entry_points:
        if ep.name in disabled:
            log.info("%s %s disabled by %s", kind, ep.name, ENV_DISABLE)
            continue
        try:
            register(ep.load(), ep.name)
        except Exception as exc:
            if strict:
                raise SpokeError(f"{kind} {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
            log.warning(
                "skipping %s %s (%s): %s: %s", kind, ep.name, ep.value, type(exc).__name__, exc
            )
            problems.append(
                PluginProblem(name=ep.name, target=ep.value, error=f"{type(exc).__name__}: {exc}")
            )
    return problems


class NamedPlugins:
    """Plugins of one kind (notifiers, directories) registered by name: the built-ins given, then
    those found under the kind's entry-point group; one that fails to load is a ``problem``."""

    #: What the plugins are called in messages, and the prefix of their names in ``pm``.
    kind: ClassVar[str]
    #: The entry-point group third parties register under.
    group: ClassVar[str]

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        entry_points: Iterable[EntryPointLike] | None = None,
        builtins: Mapping[str, object] | None = None,
    ) -> None:
        self.pm = make_plugin_manager()
        self._plugins: dict[str, object] = {}
        for name, plugin in (builtins or {}).items():
            self.register(plugin, name=name)
        if entry_points is None and load_entry_points:
            entry_points = find_entry_points(self.group)
        self.problems: list[PluginProblem] = load_plugins(
            entry_points or (),
            kind=self.kind,
            register=lambda plugin, name: self.register(plugin, name=name),
            strict=os.environ.get(ENV_STRICT) == "1",
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(names={self.names()!r})"

    def register(self, plugin: ModuleType | object, *, name: str) -> None:
        """Register a plugin object or module under ``name``."""
        if name in self._plugins:
            raise SpokeError(f"a {self.kind} named {name!r} is already registered")
        self.pm.register(plugin, name=f"{self.kind.split()[0]}:{name}")
        self.pm.check_pending()
        self._plugins[name] = plugin

    def unregister(self, name: str) -> None:
        """Remove the plugin registered as ``name``."""
        self.pm.unregister(self._plugins.pop(name))

    def names(self) -> list[str]:
        """Names of the registered plugins, sorted."""
        return sorted(self._plugins)

    def get(self, name: str) -> object | None:
        """The plugin registered as ``name``, or None."""
        return self._plugins.get(name)


class Spoke:
    """Typed facade over one spoke's hooks: calls reach this spoke and no other."""

    def __init__(self, pm: pluggy.PluginManager, name: str, plugin: object) -> None:
        self.name = name
        self._pm = pm
        self._plugin = plugin
        self._info: SpokeInfo | None = None

    def __repr__(self) -> str:
        return f"Spoke(name={self.name!r})"

    def _broken(self, hook: str, exc: Exception) -> SpokeError:
        """An ordinary exception inside a spoke: one line naming the spoke, not a traceback."""
        return SpokeError(
            f"spoke {self.name!r} failed in {hook}: {type(exc).__name__}: {exc}",
            hint="a bug in the spoke; report it to its authors (details with --debug / logging)",
        )

    def _call(self, hook: str, **kwargs: Any) -> Any:
        others = [p for p in self._pm.get_plugins() if p is not self._plugin]
        caller = self._pm.subset_hook_caller(hook, remove_plugins=others)
        try:
            return caller(**kwargs)
        except SaasLicenseError:
            raise
        except Exception as exc:
            log.debug("spoke %s failed in %s", self.name, hook, exc_info=True)
            raise self._broken(hook, exc) from exc

    def _stream(self, hook: str, items: Iterable[T]) -> Iterator[T]:
        """Iterate a spoke's generator, turning its ordinary exceptions into a SpokeError."""
        try:
            yield from items
        except SaasLicenseError:
            raise
        except Exception as exc:
            log.debug("spoke %s failed in %s", self.name, hook, exc_info=True)
            raise self._broken(hook, exc) from exc

    def _required(self, hook: str, **kwargs: Any) -> Any:
        result = self._call(hook, **kwargs)
        if result is None:
            raise SpokeError(
                f"spoke {self.name!r} does not implement {hook}",
                hint="the spoke is incomplete; upgrade it or report the problem to its authors",
            )
        return result

    def info(self) -> SpokeInfo:
        """The spoke's self-description (cached)."""
        if self._info is None:
            info = self._required("saas_license_spoke_info")
            if not isinstance(info, SpokeInfo):
                raise SpokeError(
                    f"spoke {self.name!r} returned {type(info).__name__}, not SpokeInfo"
                )
            self._info = info
        return self._info

    def download(self, context: SpokeContext) -> Iterator[SubscriptionRecord]:
        """Every seat in the vendor account."""
        hook = "saas_license_download_subscriptions"
        for record in self._stream(hook, self._required(hook, context=context)):
            if not isinstance(record, SubscriptionRecord):
                raise SpokeError(
                    f"spoke {self.name!r} yielded {type(record).__name__} from download, "
                    "expected SubscriptionRecord"
                )
            yield record

    def activity(self, context: SpokeContext, since: dt.datetime) -> Iterator[ActivityRecord]:
        """Each user's last activity."""
        hook = "saas_license_pull_user_activity"
        for record in self._stream(hook, self._required(hook, context=context, since=since)):
            if not isinstance(record, ActivityRecord):
                raise SpokeError(
                    f"spoke {self.name!r} yielded {type(record).__name__} from activity, "
                    "expected ActivityRecord"
                )
            yield record

    def reclaim(self, context: SpokeContext, subscription: Subscription) -> ReclaimResult:
        """Take one seat back (idempotent)."""
        result = self._required(
            "saas_license_reclaim_subscription", context=context, subscription=subscription
        )
        if not isinstance(result, ReclaimResult):
            raise SpokeError(f"spoke {self.name!r} returned {type(result).__name__} from reclaim")
        return result

    def current_user(self, context: SpokeContext, external_user_id: str) -> CurrentUser:
        """One user's record as the vendor holds it now (read-only); raises when it cannot say."""
        result = self._required(
            "saas_license_current_user", context=context, external_user_id=external_user_id
        )
        if not isinstance(result, CurrentUser):
            raise SpokeError(
                f"spoke {self.name!r} returned {type(result).__name__} from current_user"
            )
        if result.external_user_id != external_user_id:
            raise SpokeError(
                f"spoke {self.name!r} answered current_user for user "
                f"{result.external_user_id!r}, not {external_user_id!r}"
            )
        for seat in result.seats:
            if (
                not isinstance(seat, SubscriptionRecord)
                or seat.external_user_id != external_user_id
            ):
                raise SpokeError(
                    f"spoke {self.name!r} returned a seat of another user from current_user "
                    f"({external_user_id!r})"
                )
        return result

    def restore(self, context: SpokeContext, subscription: Subscription) -> ReclaimResult:
        """Undo a reclaim, when the spoke supports it."""
        result = self._required(
            "saas_license_restore_subscription", context=context, subscription=subscription
        )
        if not isinstance(result, ReclaimResult):
            raise SpokeError(f"spoke {self.name!r} returned {type(result).__name__} from restore")
        return result

    def sandbox(self) -> SandboxOffer | None:
        """The spoke's fake vendor account, or None when it offers none (an optional hook)."""
        offer = self._call("saas_license_sandbox")
        if offer is not None and not isinstance(offer, SandboxOffer):
            raise SpokeError(f"spoke {self.name!r} returned {type(offer).__name__} from sandbox")
        return offer

    def cli_options(self, command: str) -> list[Any]:
        """The click options the spoke adds to a core command (``"sandbox serve"``); may be empty."""
        options = self._call("saas_license_cli_options", command=command)
        return list(options or ())

    def validate(self, context: SpokeContext) -> ValidationReport:
        """Per-process connection checks; changes nothing at the vendor."""
        result = self._required("saas_license_validate_connection", context=context)
        if not isinstance(result, ValidationReport):
            raise SpokeError(f"spoke {self.name!r} returned {type(result).__name__} from validate")
        return result


class SpokeRegistry:
    """The installed spokes, loaded from the ``saas_license`` entry-point group.

    A spoke that fails to import is recorded in :attr:`problems` and skipped (set
    ``SAAS_LICENSE_STRICT_SPOKES=1`` to raise instead); ``SAAS_LICENSE_DISABLE_SPOKES`` skips
    spokes by name.
    """

    def __init__(
        self,
        *,
        load_entry_points: bool = True,
        entry_points: Iterable[EntryPointLike] | None = None,
        strict: bool | None = None,
    ) -> None:
        self.pm = make_plugin_manager()
        self.problems: list[PluginProblem] = []
        self._spokes: dict[str, Spoke] = {}
        self._strict = os.environ.get(ENV_STRICT) == "1" if strict is None else strict
        if entry_points is None and load_entry_points:
            entry_points = find_entry_points(ENTRY_POINT_GROUP)
        disabled = {n.strip() for n in os.environ.get(ENV_DISABLE, "").split(",") if n.strip()}
        self.problems = load_plugins(
            entry_points or (),
            kind="spoke",
            register=lambda plugin, name: self.register(plugin, name=name),
            strict=self._strict,
            disabled=disabled,
        )

    def register(self, plugin: ModuleType | object, *, name: str) -> Spoke:
        """Register a spoke object or module under ``name`` (what entry points do, by hand)."""
        if name in self._spokes:
            raise SpokeError(f"a spoke named {name!r} is already registered")
        self.pm.register(plugin, name=name)
        self.pm.check_pending()
        spoke = Spoke(self.pm, name, plugin)
        self._spokes[name] = spoke
        return spoke

    def names(self) -> list[str]:
        """Names of the loaded spokes, sorted."""
        return sorted(self._spokes)

    def get(self, name: str) -> Spoke:
        """The spoke called ``name``, or a clear error listing what is installed."""
        try:
            return self._spokes[name]
        except KeyError:
            have = ", ".join(self.names()) or "none"
            raise SpokeNotFoundError(
                f"no spoke named {name!r} is installed (installed: {have})",
                hint="install the spoke's package; it registers itself under the 'saas_license' entry points",
            ) from None

    def __iter__(self) -> Iterator[Spoke]:
        return iter(self._spokes[n] for n in self.names())
