"""Exclusion and reclamation rules: list, add, change, export, load."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .._convert import converter
from .._errors import ConfigError
from .._rule_impact import BigChangeError, may_add_candidates, rule_impact
from .._rules import ExclusionRule, ReclamationRule, RuleSet, load_rule_set, structure_rule
from ._change import changing

if TYPE_CHECKING:
    from .facade import Workspace

__all__ = ["Rules"]


class Rules:
    """Exclusion and reclamation rules: list, add, change, export, load (``ws.rules``)."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def exclusions(self) -> list[ExclusionRule]:
        """All exclusion rules."""
        return self._ws.store.list_exclusion_rules()

    def add_exclusion(
        self, rule: ExclusionRule | None = None, *, actor: str = "user", **fields: Any
    ) -> ExclusionRule:
        """Add an exclusion rule (a record, or its fields: ``kind``, ``value``, ``effect``…)."""
        if rule is None:
            rule = structure_rule(fields, ExclusionRule, what="exclusion_rule")
        elif fields:
            raise ConfigError("pass a rule or its fields, not both", field="exclusion_rule")
        with changing(self._ws, "exclusion_rule.created", "exclusion_rule", actor=actor) as change:
            saved = self._ws.store.add_exclusion_rule(rule)
            change.done(saved.id, after=saved)
        return saved

    def update_exclusion(
        self, rule_id: int, *, actor: str = "user", **changes: Any
    ) -> ExclusionRule:
        """Change fields of an exclusion rule (e.g. ``active=False``)."""
        before = self._ws.store.get_exclusion_rule(rule_id)
        if before is None:
            raise ConfigError(f"no exclusion rule with id {rule_id}", field="exclusion_rule.id")
        data = {**converter.unstructure(before), **changes, "id": rule_id}
        after = structure_rule(data, ExclusionRule, what="exclusion_rule")
        with changing(
            self._ws, "exclusion_rule.updated", "exclusion_rule", before=before, actor=actor
        ) as change:
            self._ws.store.update_exclusion_rule(after)
            change.done(rule_id, after=after)
        return after

    def remove_exclusion(self, rule_id: int, *, actor: str = "user") -> None:
        """Delete an exclusion rule."""
        before = self._ws.store.get_exclusion_rule(rule_id)
        if before is None:
            raise ConfigError(f"no exclusion rule with id {rule_id}", field="exclusion_rule.id")
        with changing(
            self._ws,
            "exclusion_rule.deleted",
            "exclusion_rule",
            entity_id=rule_id,
            before=before,
            actor=actor,
        ):
            self._ws.store.delete_exclusion_rule(rule_id)

    def reclamation(self) -> list[ReclamationRule]:
        """All reclamation rules (one per paid software model, generated on first download)."""
        return self._ws.store.list_reclamation_rules()

    def set_reclamation(
        self,
        software_model: str,
        *,
        actor: str = "user",
        allow_big_change: bool = False,
        **changes: Any,
    ) -> ReclamationRule:
        """Create or edit the reclamation rule of ``software_model``; bad values name the field.

        The model must exist. A change that would make free seats, or more than
        :data:`~saas_license._rule_impact.BIG_CHANGE_SHARE` of a profile's seats, new candidates
        raises :class:`~saas_license._rule_impact.BigChangeError` unless ``allow_big_change``.
        """
        models = {m.name: m for m in self._ws.store.list_software_models()}
        if software_model not in models:
            raise ConfigError(
                f"no software model named {software_model!r}",
                field="reclamation_rule.software_model",
                hint="known models: "
                + (", ".join(sorted(models)) or "none yet; run a profile first"),
            )
        before = self._ws.store.get_reclamation_rule(software_model)
        base = converter.unstructure(before) if before else {"software_model": software_model}
        base.pop("id", None)
        if "software_model" in changes:
            raise ConfigError("cannot move a rule to another model", field="software_model")
        after = structure_rule({**base, **changes}, ReclamationRule, what="reclamation_rule")
        if not allow_big_change and may_add_candidates(before, after):
            impact = rule_impact(
                self._ws.store,
                after,
                now=self._ws.clock(),
                policy=self._ws.policy,
                free_model=not models[software_model].paid,
            )
            if impact.big:
                raise BigChangeError(impact)
        with changing(
            self._ws,
            "reclamation_rule.updated" if before else "reclamation_rule.created",
            "reclamation_rule",
            before=before,
            actor=actor,
        ) as change:
            saved = self._ws.store.save_reclamation_rule(
                attrs.evolve(after, id=before.id if before else None)
            )
            change.done(saved.id, after=saved)
        return saved

    def export(self) -> RuleSet:
        """Every exclusion and reclamation rule, as one document."""
        return RuleSet(exclusions=self.exclusions(), reclamation=self.reclamation())

    def load(
        self,
        source: str | os.PathLike[str] | dict[str, Any],
        *,
        replace: bool = False,
        actor: str = "user",
        allow_big_change: bool = False,
    ) -> RuleSet:
        """Import rules from a JSON/TOML file or a dict: all of them or none.

        Reclamation rules update the rule of their model; exclusion rules are added (with
        ``replace``, existing exclusion rules are removed first). A rule for an unknown model,
        or one with a big effect (see :meth:`set_reclamation`), refuses the whole import.
        """
        rules = load_rule_set(source if isinstance(source, dict) else Path(source))
        models = {m.name for m in self._ws.store.list_software_models()}
        label = "rules." if isinstance(source, dict) else f"{Path(source).name}: "
        for i, rec in enumerate(rules.reclamation):
            if rec.software_model not in models:
                raise ConfigError(
                    f"no software model named {rec.software_model!r}",
                    field=f"{label}reclamation[{i}].software_model",
                    hint="known models: " + (", ".join(sorted(models)) or "none yet"),
                )
        with self._ws.store.transaction():
            if replace:
                for old in self.exclusions():
                    self.remove_exclusion(old.id or 0, actor=actor)
            for ex in rules.exclusions:
                self.add_exclusion(attrs.evolve(ex, id=None), actor=actor)
            for rec in rules.reclamation:
                data = converter.unstructure(rec)
                data.pop("id", None)
                data.pop("software_model")
                self.set_reclamation(
                    rec.software_model, actor=actor, allow_big_change=allow_big_change, **data
                )
        return rules
