"""Exclusion and reclamation rules on SQLite.

Implements :class:`~saas_license._store._protocol.RuleStore`.
"""

from __future__ import annotations

import json

from ..._convert import converter
from ..._errors import ConfigError
from ..._rules import ExclusionRule, ReclamationRule
from .base import SqliteBaseStore, _dumps

__all__ = ["SqliteRuleStore"]


class SqliteRuleStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.RuleStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    def add_exclusion_rule(self, rule: ExclusionRule) -> ExclusionRule:
        """Store a new exclusion rule; returns it with its id."""
        with self.transaction():
            data = converter.unstructure(rule)
            data.pop("id", None)
            cur = self._q("INSERT INTO exclusion_rules (data) VALUES (?)", (_dumps(data),))
            return converter.structure({**data, "id": cur.lastrowid}, ExclusionRule)

    def list_exclusion_rules(self) -> list[ExclusionRule]:
        """All exclusion rules, oldest first."""
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, ExclusionRule)
            for r in self._q("SELECT id, data FROM exclusion_rules ORDER BY id")
        ]

    def delete_exclusion_rule(self, rule_id: int) -> bool:
        """Remove an exclusion rule; True if it existed."""
        with self.transaction():
            return self._q("DELETE FROM exclusion_rules WHERE id = ?", (rule_id,)).rowcount == 1

    def get_exclusion_rule(self, rule_id: int) -> ExclusionRule | None:
        """One exclusion rule by id."""
        row = self._q("SELECT id, data FROM exclusion_rules WHERE id = ?", (rule_id,)).fetchone()
        if row is None:
            return None
        return converter.structure({**json.loads(row["data"]), "id": row["id"]}, ExclusionRule)

    def update_exclusion_rule(self, rule: ExclusionRule) -> ExclusionRule:
        """Replace a stored exclusion rule (found by its id)."""
        data = converter.unstructure(rule)
        data.pop("id", None)
        with self.transaction():
            cur = self._q(
                "UPDATE exclusion_rules SET data = ? WHERE id = ?", (_dumps(data), rule.id)
            )
            if cur.rowcount != 1:
                raise ConfigError(f"no exclusion rule with id {rule.id}", field="exclusion_rule.id")
        return rule

    def save_reclamation_rule(self, rule: ReclamationRule) -> ReclamationRule:
        """Insert (no id) or replace (with id) a reclamation rule; returns it with its id."""
        data = converter.unstructure(rule)
        data.pop("id", None)
        with self.transaction():
            if rule.id is None:
                cur = self._q(
                    "INSERT INTO reclamation_rules (software_model, data) VALUES (?, ?)",
                    (rule.software_model, _dumps(data)),
                )
                rule_id = cur.lastrowid
            else:
                cur = self._q(
                    "UPDATE reclamation_rules SET software_model = ?, data = ? WHERE id = ?",
                    (rule.software_model, _dumps(data), rule.id),
                )
                if cur.rowcount != 1:
                    raise ConfigError(
                        f"no reclamation rule with id {rule.id}", field="reclamation_rule.id"
                    )
                rule_id = rule.id
        return converter.structure({**data, "id": rule_id}, ReclamationRule)

    def get_reclamation_rule(self, software_model: str) -> ReclamationRule | None:
        """The (first) reclamation rule of ``software_model``."""
        row = self._q(
            "SELECT id, data FROM reclamation_rules WHERE software_model = ? ORDER BY id LIMIT 1",
            (software_model,),
        ).fetchone()
        if row is None:
            return None
        return converter.structure({**json.loads(row["data"]), "id": row["id"]}, ReclamationRule)

    def list_reclamation_rules(self) -> list[ReclamationRule]:
        """All reclamation rules, oldest first."""
        return [
            converter.structure({**json.loads(r["data"]), "id": r["id"]}, ReclamationRule)
            for r in self._q("SELECT id, data FROM reclamation_rules ORDER BY id")
        ]
