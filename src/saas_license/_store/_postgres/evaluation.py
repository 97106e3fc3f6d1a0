"""The set-based evaluation's engine-specific SQL on PostgreSQL (see
:class:`~saas_license._evaluation_sql.EvaluationDialect`): the rest of its SQL is SQLite's,
run through :mod:`.dialect`, so both stores decide every seat with the same statements.

- user patterns and domains: ``LIKE`` on the lower-cased ASCII name (``*`` → ``%``, ``?`` →
  ``_``), where SQLite's ``LIKE`` folds ASCII case itself;
- rules SQL cannot decide exactly (non-ASCII names, patterns with a character class): no Python
  runs inside PostgreSQL, so :meth:`ExclusionRule.matches` runs here once per distinct name the
  rule is asked about, and the names it matches go into ``pg_temp.eval_match`` for the SQL;
- the evaluation's tally is ``string_agg`` (SQLite's ``group_concat``);
- temp tables are filled by ``COPY`` (one round trip, however many rows) and analysed, so the
  planner knows their size.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..._evaluation_sql import EvaluationDialect

__all__ = ["PostgresEvaluation"]


class PostgresEvaluation(EvaluationDialect):
    """:class:`EvaluationDialect` for the PostgreSQL store (``_evaluation_dialect``)."""

    def is_ascii(self, column: str) -> str:
        return f"octet_length({column}) = length({column})"

    def like(self, column: str, param: str) -> str:
        # "LIKE" would become "ILIKE" in the dialect: the explicit operator on the lower-cased
        # name is exact (the pattern is lower-case, the name ASCII)
        return f'(lower({column}) COLLATE "C") OPERATOR(pg_catalog.~~) :{param}'

    def concat(self, expr: str) -> str:
        return f"string_agg({expr}, '')"

    def keyed_table(self, name: str, columns: str) -> str:
        return f"CREATE TABLE temp.{name} ({columns})"

    def python_match(
        self,
        db: Any,
        profile: str,
        match: Callable[[int, str], bool],
        rules: Mapping[int, bool],
    ) -> Callable[[int], str]:
        db.execute("DROP TABLE IF EXISTS temp.eval_match")
        db.execute(
            "CREATE TABLE temp.eval_match (rule INTEGER NOT NULL, upn TEXT NOT NULL, "
            "PRIMARY KEY (rule, upn))"
        )
        every = any(rules.values())
        names = [
            str(r[0])
            for r in db.execute(
                "SELECT DISTINCT user_principal_name FROM subscriptions WHERE profile = ?"
                + (
                    ""
                    if every
                    else " AND octet_length(user_principal_name) <> length(user_principal_name)"
                ),
                (profile,),
            )
        ]
        hits = [
            (i, name)
            for i, every_name in rules.items()
            for name in names
            if (every_name or not name.isascii()) and match(i, name)
        ]
        self.insert_rows(db, "eval_match", 2, hits)
        return lambda i: (
            f"EXISTS (SELECT 1 FROM temp.eval_match m WHERE m.rule = {int(i)} "
            "AND m.upn = s.user_principal_name)"
        )

    def insert_rows(self, db: Any, table: str, width: int, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        if len(rows) < 50:  # a few rows: one pipelined batch is as quick as a COPY
            super().insert_rows(db, table, width, rows)
        else:
            db.copy_rows(f"pg_temp.{table}", rows)
        db.execute(f"ANALYZE temp.{table}")
