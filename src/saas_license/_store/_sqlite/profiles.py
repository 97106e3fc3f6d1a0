"""Connection aliases and integration profiles on SQLite.

Implements :class:`~saas_license._store._protocol.ProfileStore`.
"""

from __future__ import annotations

import json

from ..._convert import converter
from ..._profiles import ConnectionAlias, IntegrationProfile
from .base import SqliteBaseStore, _dumps

__all__ = ["SqliteProfileStore"]


class SqliteProfileStore(SqliteBaseStore):
    """The :class:`~saas_license._store._protocol.ProfileStore` part of
    :class:`~saas_license._store.SqliteStore`."""

    def save_alias(self, alias: ConnectionAlias) -> None:
        """Create or replace a connection alias."""
        with self.transaction():
            self._q(
                "INSERT INTO aliases (name, data) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET data = excluded.data",
                (alias.name, _dumps(converter.unstructure(alias))),
            )

    def get_alias(self, name: str) -> ConnectionAlias | None:
        """The alias called ``name``."""
        row = self._q("SELECT data FROM aliases WHERE name = ?", (name,)).fetchone()
        return None if row is None else converter.structure(json.loads(row[0]), ConnectionAlias)

    def list_aliases(self) -> list[ConnectionAlias]:
        """All aliases, by name."""
        rows = self._q("SELECT data FROM aliases ORDER BY name")
        return [converter.structure(json.loads(r[0]), ConnectionAlias) for r in rows]

    def delete_alias(self, name: str) -> bool:
        """Remove the alias called ``name``; True if there was one (its secrets are the
        caller's to remove)."""
        with self.transaction():
            cur = self._q("DELETE FROM aliases WHERE name = ?", (name,))
        return bool(cur.rowcount)

    def save_profile(self, profile: IntegrationProfile) -> None:
        """Create or replace a profile."""
        with self.transaction():
            self._q(
                "INSERT INTO profiles (name, data) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET data = excluded.data",
                (profile.name, _dumps(converter.unstructure(profile))),
            )

    def get_profile(self, name: str) -> IntegrationProfile | None:
        """The profile called ``name``."""
        row = self._q("SELECT data FROM profiles WHERE name = ?", (name,)).fetchone()
        return None if row is None else converter.structure(json.loads(row[0]), IntegrationProfile)

    def list_profiles(self) -> list[IntegrationProfile]:
        """All profiles, by name."""
        rows = self._q("SELECT data FROM profiles ORDER BY name")
        return [converter.structure(json.loads(r[0]), IntegrationProfile) for r in rows]

    def delete_profile(self, name: str) -> None:
        """Delete a profile with its subscriptions, job results, schedule, lock and unapplied plans.

        Candidates (closed by the caller), reclaim actions, the outbox, the audit log and
        reclamation rules are kept.
        """
        with self.transaction():
            # candidates read their seat's key from the seat (compact candidates): keep it
            self._q(
                "UPDATE candidates SET "
                "user_id = COALESCE(user_id, (SELECT s.external_user_id FROM subscriptions s "
                "WHERE s.id = candidates.subscription_id)), "
                "identifier = COALESCE(identifier, (SELECT s.identifier FROM subscriptions s "
                "WHERE s.id = candidates.subscription_id)) "
                "WHERE subscription_id IN (SELECT id FROM subscriptions WHERE profile = ?)",
                (name,),
            )
            self._q("DELETE FROM subscriptions WHERE profile = ?", (name,))
            self._q("DELETE FROM jobs WHERE profile = ?", (name,))
            self._q("DELETE FROM scheduled_jobs WHERE profile = ?", (name,))
            self._q("DELETE FROM run_locks WHERE profile = ?", (name,))
            self._q(
                "DELETE FROM reclaim_plan_items WHERE plan_id IN "
                "(SELECT id FROM reclaim_plans WHERE profile = ? AND applied_at IS NULL)",
                (name,),
            )
            self._q("DELETE FROM reclaim_plans WHERE profile = ? AND applied_at IS NULL", (name,))
            self._q("DELETE FROM profiles WHERE name = ?", (name,))
