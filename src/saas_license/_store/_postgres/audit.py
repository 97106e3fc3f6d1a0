"""The :class:`~saas_license._store._protocol.AuditStore` part of the PostgreSQL store: the same
hash chains as on SQLite (``_store/_integrity.py``), appended through :mod:`.dialect`, and
verified the same way; the guards checked are PostgreSQL's triggers and their functions."""

from __future__ import annotations

import sqlite3

from ..._audit import AuditProblem, AuditVerification
from ..._errors import StoreError
from .._integrity import verify_entries
from .._sqlite.audit import SqliteAuditStore
from .base import PostgresBaseStore
from .schema import AUDIT_FUNCTIONS, AUDIT_TRIGGERS

__all__ = ["PostgresAuditStore"]


class PostgresAuditStore(PostgresBaseStore, SqliteAuditStore):
    """The :class:`~saas_license._store._protocol.AuditStore` part of :class:`~.PostgresStore`."""

    def verify_audit(self) -> AuditVerification:
        """Check every audit chain entry by entry, the chain heads and the log's guards."""
        try:
            with self._lock:
                return self._verify()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"could not read the audit log: {exc}") from exc

    def _verify(self) -> AuditVerification:
        return verify_entries(self._db, self._check_guards())

    def _check_guards(self) -> list[AuditProblem]:
        """The audit log's triggers exist, are enabled, and run the functions as written."""
        have = {
            r[0]: (r[1], r[2], r[3])
            for r in self._db.execute(
                "SELECT t.tgname, t.tgenabled, p.proname, p.prosrc FROM pg_trigger t "
                "JOIN pg_proc p ON p.oid = t.tgfoid "
                "WHERE t.tgrelid = 'audit_log'::regclass AND NOT t.tgisinternal"
            )
        }
        problems = []
        for name, function in AUDIT_TRIGGERS.items():
            if name not in have:
                problems.append(
                    AuditProblem(kind="trigger", message=f"the audit log guard {name} was dropped")
                )
                continue
            enabled, proname, source = have[name]
            if enabled == "D":
                problems.append(
                    AuditProblem(kind="trigger", message=f"the audit log guard {name} was disabled")
                )
            if proname != function or _normal(source) != _normal(AUDIT_FUNCTIONS[function]):
                problems.append(
                    AuditProblem(kind="trigger", message=f"the audit log guard {name} was altered")
                )
        return problems


def _normal(source: str) -> str:
    text = " ".join(source.split())
    if text.startswith("BEGIN ") and text.endswith(" END"):
        text = text[len("BEGIN ") : -len(" END")]
    return text
