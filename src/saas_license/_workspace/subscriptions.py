"""Seats as stored, software models and the identifiers that map to them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._boundary import QuarantinedRecord
from .._errors import ConfigError
from .._models import SoftwareModel, UnrecognizedIdentifier
from .._rules import ReclamationRule
from .._subscriptions import Subscription
from ._change import changing

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["Subscriptions"]


class Subscriptions:
    """Seats as stored, software models and the identifiers that map to them (``ws.subscriptions``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def query(self, profile: str | None = None, *, active_only: bool = True) -> list[Subscription]:
        """Stored subscriptions (use ``store.iter_subscriptions`` to stream large sets)."""
        return list(self._ws.store.iter_subscriptions(profile, active_only=active_only))

    def quarantined(
        self, profile: str | None = None, *, limit: int = 100
    ) -> list[QuarantinedRecord]:
        """Spoke records the core refused at its boundary, newest first (shown by ``jobs``)."""
        return self._ws.store.list_quarantined(profile, limit=limit)

    def models(self) -> list[SoftwareModel]:
        """All software models."""
        return self._ws.store.list_software_models()

    def add_model(
        self, name: str, *, publisher: str, paid: bool = True, actor: str = "user"
    ) -> SoftwareModel:
        """Create a software model (a paid one gets the default reclamation rule)."""
        if not name.strip() or not publisher.strip():
            raise ConfigError("name and publisher must not be empty", field="software_model")
        model = SoftwareModel(
            name=name, publisher=publisher, paid=paid, created_at=self._ws.clock()
        )
        with changing(self._ws, "software_model.created", "software_model", actor=actor) as change:
            if not self._ws.store.ensure_software_model(model):
                raise ConfigError(f"a software model named {name!r} exists", field="software_model")
            if paid and self._ws.store.get_reclamation_rule(name) is None:
                self._ws.store.save_reclamation_rule(ReclamationRule(software_model=name))
            change.done(name, after={"publisher": publisher, "paid": paid})
        return model

    def unrecognized(self) -> list[UnrecognizedIdentifier]:
        """Identifiers on active seats that map to no software model, with subscription counts."""
        return [
            UnrecognizedIdentifier(
                identifier=ident, subscriptions=sum(per.values()), profiles=dict(per)
            )
            for ident, per in self._ws.store.unrecognized_identifiers().items()
        ]

    def map_identifier(self, identifier: str, software_model: str, *, actor: str = "user") -> int:
        """Map an identifier to a model; every subscription carrying it is re-pointed. Returns
        how many were."""
        before = self._ws.store.identifier_map().get(identifier)
        with changing(
            self._ws,
            "identifier.mapped",
            "identifier",
            before={"software_model": before},
            actor=actor,
        ) as change:
            count = self._ws.store.map_identifier(identifier, software_model)
            change.done(
                identifier, after={"software_model": software_model, "subscriptions": count}
            )
        return count
