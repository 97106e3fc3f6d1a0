"""The bad-input corpus, CLI half: every case is refused with the documented exit code and one
line that names the field, never a traceback, and the workspace is logically unchanged (a dump
of every table is identical before and after). Run in-process through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from saas_license.cli import cli

from .conftest import dump

RM = "Aha! Roadmaps"
FREE = "Aha! Reviewer & Viewer (free)"
CSV_HEAD = "software_model,purchased_rights,unit_cost,currency,start\n"


def _rules(**reclamation: object) -> str:
    return json.dumps({"reclamation": [{"software_model": RM, **reclamation}]})


def _csv(*rows: str) -> str:
    return CSV_HEAD + "".join(r + "\n" for r in rows)


#: (id, argv, exit code, what the message must name, files to write into the case's folder).
#: ``{ws}`` is the workspace, ``{dir}`` the case's folder.
CASES: list[tuple[str, list[str], int, str, dict[str, str | bytes]]] = [
    # -- rules import: booleans are booleans, whole days are integers, keys and models known --
    (
        "rules-true-as-days",
        ["rules", "import", "{dir}/r.json"],
        2,
        "reclamation[0].inactivity_days",
        {"r.json": _rules(inactivity_days=True)},
    ),
    (
        "rules-false-string",
        ["rules", "import", "{dir}/r.json"],
        2,
        "reclamation[0].active",
        {"r.json": _rules(active="false")},
    ),
    (
        "rules-notify-no",
        ["rules", "import", "{dir}/r.json"],
        2,
        "notify_user",
        {"r.json": _rules(notify_user="no")},
    ),
    (
        "rules-candidates-false-string",
        ["rules", "import", "{dir}/r.json"],
        2,
        "create_candidates",
        {"r.json": _rules(create_candidates="false")},
    ),
    (
        "rules-half-day",
        ["rules", "import", "{dir}/r.json"],
        2,
        "inactivity_days",
        {"r.json": _rules(inactivity_days=90.5)},
    ),
    (
        "rules-1e400",
        ["rules", "import", "{dir}/r.json"],
        2,
        "inactivity_days",
        {
            "r.json": '{"reclamation": [{"software_model": "Aha! Roadmaps", "inactivity_days": 1e400}]}'
        },
    ),
    (
        "rules-nan-literal",
        ["rules", "import", "{dir}/r.json"],
        2,
        "rules file",
        {
            "r.json": '{"reclamation": [{"software_model": "Aha! Roadmaps", "inactivity_days": NaN}]}'
        },
    ),
    (
        "rules-infinity-literal",
        ["rules", "import", "{dir}/r.json"],
        2,
        "rules file",
        {
            "r.json": '{"reclamation": [{"software_model": "Aha! Roadmaps", "cooldown_days": -Infinity}]}'
        },
    ),
    (
        "rules-binary",
        ["rules", "import", "{dir}/r.json"],
        2,
        "rules file",
        {"r.json": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"},
    ),
    (
        "rules-latin1",
        ["rules", "import", "{dir}/r.json"],
        2,
        "rules file",
        {"r.json": '{"x": "caf\xe9"}'.encode("latin-1")},
    ),
    (
        "rules-not-json",
        ["rules", "import", "{dir}/r.json"],
        2,
        "not valid JSON",
        {"r.json": "{not json"},
    ),
    ("rules-empty-file", ["rules", "import", "{dir}/r.json"], 2, "not valid JSON", {"r.json": ""}),
    (
        "rules-top-level-list",
        ["rules", "import", "{dir}/r.json"],
        2,
        "rules file",
        {"r.json": "[]"},
    ),
    (
        "rules-unknown-key",
        ["rules", "import", "{dir}/r.json"],
        2,
        "efect",
        {
            "r.json": json.dumps(
                {"exclusions": [{"kind": "user", "value": "a@b.test", "efect": "both"}]}
            )
        },
    ),
    (
        "rules-unknown-section",
        ["rules", "import", "{dir}/r.json"],
        2,
        "exclusion",
        {"r.json": json.dumps({"exclusion": []})},
    ),
    (
        "rules-unknown-model",
        ["rules", "import", "{dir}/r.json"],
        2,
        "Aha! Roadmap'",
        {"r.json": json.dumps({"reclamation": [{"software_model": "Aha! Roadmap"}]})},
    ),
    (
        "rules-free-model-big-change",
        ["rules", "import", "{dir}/r.json"],
        2,
        "seats would become candidates",
        {"r.json": json.dumps({"reclamation": [{"software_model": FREE, "inactivity_days": 30}]})},
    ),
    (
        "rules-big-share",
        ["rules", "import", "{dir}/r.json"],
        2,
        "seats would become candidates",
        {"r.json": _rules(inactivity_days=1)},
    ),
    (
        "rules-bad-kind",
        ["rules", "import", "{dir}/r.json"],
        2,
        "exclusions[0].kind",
        {"r.json": json.dumps({"exclusions": [{"kind": "team", "value": "x"}]})},
    ),
    (
        "rules-bad-effect",
        ["rules", "import", "{dir}/r.json"],
        2,
        "exclusions[0].effect",
        {"r.json": json.dumps({"exclusions": [{"kind": "user", "value": "x", "effect": "all"}]})},
    ),
    (
        "rules-attribute-without-name",
        ["rules", "import", "{dir}/r.json"],
        2,
        "exclusions[0].attribute",
        {"r.json": json.dumps({"exclusions": [{"kind": "attribute", "value": "x"}]})},
    ),
    (
        "rules-empty-value",
        ["rules", "import", "{dir}/r.json"],
        2,
        "exclusions[0].value",
        {"r.json": json.dumps({"exclusions": [{"kind": "user", "value": " "}]})},
    ),
    (
        "rules-zero-days",
        ["rules", "import", "{dir}/r.json"],
        2,
        "inactivity_days",
        {"r.json": _rules(inactivity_days=0)},
    ),
    (
        "rules-too-many-days",
        ["rules", "import", "{dir}/r.json"],
        2,
        "inactivity_days",
        {"r.json": _rules(inactivity_days=99_999)},
    ),
    (
        "rules-huge-int",
        ["rules", "import", "{dir}/r.json"],
        2,
        "inactivity_days",
        {"r.json": _rules(inactivity_days=10**30)},
    ),
    (
        "rules-negative-cooldown",
        ["rules", "import", "{dir}/r.json"],
        2,
        "cooldown_days",
        {"r.json": _rules(cooldown_days=-1)},
    ),
    (
        "rules-days-as-string",
        ["rules", "import", "{dir}/r.json"],
        2,
        "days_before_auto_reclaim",
        {"r.json": _rules(days_before_auto_reclaim="7")},
    ),
    (
        "rules-null-days",
        ["rules", "import", "{dir}/r.json"],
        2,
        "inactivity_days",
        {"r.json": _rules(inactivity_days=None)},
    ),
    (
        "rules-approver-number",
        ["rules", "import", "{dir}/r.json"],
        2,
        "approver",
        {"r.json": _rules(approver=5)},
    ),
    (
        "rules-model-missing",
        ["rules", "import", "{dir}/r.json"],
        2,
        "software_model",
        {"r.json": json.dumps({"reclamation": [{"inactivity_days": 30}]})},
    ),
    (
        "rules-section-not-list",
        ["rules", "import", "{dir}/r.json"],
        2,
        "reclamation",
        {"r.json": json.dumps({"reclamation": {"software_model": RM}})},
    ),
    (
        "rules-filter-not-object",
        ["rules", "import", "{dir}/r.json"],
        2,
        "filter",
        {"r.json": _rules(filter="department=IT")},
    ),
    (
        "rules-description-number",
        ["rules", "import", "{dir}/r.json"],
        2,
        "description",
        {"r.json": json.dumps({"exclusions": [{"kind": "user", "value": "x", "description": 5}]})},
    ),
    (
        "rules-exclusion-string",
        ["rules", "import", "{dir}/r.json"],
        2,
        "exclusions[0]",
        {"r.json": json.dumps({"exclusions": ["svc@x.test"]})},
    ),
    (
        "rules-toml-quoted-bool",
        ["rules", "import", "{dir}/r.toml"],
        2,
        "notify_user",
        {"r.toml": '[[reclamation]]\nsoftware_model = "Aha! Roadmaps"\nnotify_user = "true"\n'},
    ),
    (
        "rules-toml-inf",
        ["rules", "import", "{dir}/r.toml"],
        2,
        "inactivity_days",
        {"r.toml": '[[reclamation]]\nsoftware_model = "Aha! Roadmaps"\ninactivity_days = inf\n'},
    ),
    (
        "rules-toml-float",
        ["rules", "import", "{dir}/r.toml"],
        2,
        "inactivity_days",
        {"r.toml": '[[reclamation]]\nsoftware_model = "Aha! Roadmaps"\ninactivity_days = 30.0\n'},
    ),
    (
        "rules-toml-invalid",
        ["rules", "import", "{dir}/r.toml"],
        2,
        "not valid TOML",
        {"r.toml": "[[reclamation]\n"},
    ),
    ("rules-import-missing-file", ["rules", "import", "{dir}/none.json"], 2, "PATH", {}),
    # -- rules set / exclude ----------------------------------------------------------------
    (
        "set-typo-model",
        ["rules", "set", "Aha! Roadmap", "--inactivity-days", "30"],
        2,
        "Aha! Roadmap'",
        {},
    ),
    ("set-half-day", ["rules", "set", RM, "--inactivity-days", "90.5"], 2, "--inactivity-days", {}),
    (
        "set-true-days",
        ["rules", "set", RM, "--inactivity-days", "true"],
        2,
        "--inactivity-days",
        {},
    ),
    ("set-zero-days", ["rules", "set", RM, "--inactivity-days", "0"], 2, "inactivity_days", {}),
    (
        "set-negative-cooldown",
        ["rules", "set", RM, "--cooldown-days", "-5"],
        2,
        "cooldown_days",
        {},
    ),
    (
        "set-auto-reclaim-400",
        ["rules", "set", RM, "--days-before-auto-reclaim", "400"],
        2,
        "days_before_auto_reclaim",
        {},
    ),
    ("set-remind-999", ["rules", "set", RM, "--remind-days", "999"], 2, "remind_days_before", {}),
    (
        "set-negative-grace",
        ["rules", "set", RM, "--grace-days", "-1"],
        2,
        "new_account_grace_days",
        {},
    ),
    (
        "set-free-model",
        ["rules", "set", FREE, "--inactivity-days", "30"],
        2,
        "seats would become candidates",
        {},
    ),
    (
        "set-big-share",
        ["rules", "set", RM, "--inactivity-days", "1"],
        2,
        "seats would become candidates",
        {},
    ),
    ("set-filter-no-equals", ["rules", "set", RM, "--filter", "department"], 2, "--filter", {}),
    ("exclude-nothing", ["rules", "exclude"], 2, "--user", {}),
    ("exclude-empty-user", ["rules", "exclude", "--user", ""], 2, "--user", {}),
    (
        "exclude-two-kinds",
        ["rules", "exclude", "--user", "a@b.test", "--domain", "b.test"],
        2,
        "--user",
        {},
    ),
    (
        "exclude-attribute-no-value",
        ["rules", "exclude", "--attribute", "department"],
        2,
        "--attribute",
        {},
    ),
    (
        "exclude-bad-effect",
        ["rules", "exclude", "--user", "x", "--effect", "all"],
        2,
        "--effect",
        {},
    ),
    ("unexclude-missing", ["rules", "unexclude", "999"], 2, "exclusion_rule.id", {}),
    ("enable-not-a-number", ["rules", "enable", "abc"], 2, "RULE_ID", {}),
    ("disable-missing", ["rules", "disable", "999"], 2, "exclusion_rule.id", {}),
    # -- profiles: options declared by the spoke, typed, validated on write ------------------
    (
        "option-false-string",
        ["profile", "edit", "aha", "--option", "aha.audits=False"],
        2,
        "aha.audits",
        {},
    ),
    ("option-yes", ["profile", "edit", "aha", "--option", "aha.audits=yes"], 2, "aha.audits", {}),
    ("option-one", ["profile", "edit", "aha", "--option", "aha.audits=1"], 2, "aha.audits", {}),
    (
        "option-unknown",
        ["profile", "edit", "aha", "--option", "aha.audit=true"],
        2,
        "aha.audit'",
        {},
    ),
    (
        "option-removed-scope",
        ["profile", "edit", "aha", "--option", "reclaim.scope=seat"],
        2,
        "reclaim.scope",
        {},
    ),
    ("option-no-equals", ["profile", "edit", "aha", "--option", "aha.audits"], 2, "--option", {}),
    ("option-no-key", ["profile", "edit", "aha", "--option", "=true"], 2, "--option", {}),
    (
        "look-back-zero",
        ["profile", "edit", "aha", "--look-back-days", "0"],
        2,
        "activity_look_back_days",
        {},
    ),
    (
        "look-back-366",
        ["profile", "edit", "aha", "--look-back-days", "366"],
        2,
        "activity_look_back_days",
        {},
    ),
    (
        "look-back-text",
        ["profile", "edit", "aha", "--look-back-days", "soon"],
        2,
        "--look-back-days",
        {},
    ),
    (
        "display-name-blank",
        ["profile", "edit", "aha", "--display-name", "  "],
        2,
        "display_name",
        {},
    ),
    ("edit-missing-profile", ["profile", "edit", "nope", "--no-reclaim"], 2, "nope", {}),
    (
        "create-bad-name",
        ["profile", "create", "Bad Name", "--spoke", "aha", "--alias", "aha-main"],
        2,
        "profile.name",
        {},
    ),
    (
        "create-unknown-spoke",
        ["profile", "create", "p2", "--spoke", "nope", "--alias", "aha-main"],
        1,
        "nope",
        {},
    ),
    (
        "create-unknown-alias",
        ["profile", "create", "p2", "--spoke", "aha", "--alias", "missing"],
        2,
        "connection_alias",
        {},
    ),
    (
        "create-duplicate",
        ["profile", "create", "aha", "--spoke", "aha", "--alias", "aha-main"],
        2,
        "profile.name",
        {},
    ),
    ("show-missing-profile", ["profile", "show", "nope"], 2, "nope", {}),
    ("delete-missing-profile", ["profile", "delete", "nope", "--yes"], 2, "nope", {}),
    # -- aliases: https only, one key source ------------------------------------------------
    (
        "alias-plain-http",
        ["alias", "add", "x", "--spoke", "aha", "--url", "http://acme.aha.io"],
        2,
        "--url",
        {},
    ),
    (
        "alias-ftp",
        ["alias", "add", "x", "--spoke", "aha", "--url", "ftp://acme.aha.io"],
        2,
        "--url",
        {},
    ),
    (
        "alias-escape-in-url",
        ["alias", "add", "x", "--spoke", "aha", "--url", "https://acme.aha.io/\x1b[2J"],
        2,
        "--url",
        {},
    ),
    ("alias-not-a-url", ["alias", "add", "x", "--spoke", "aha", "--url", "acme"], 2, "--url", {}),
    (
        "alias-two-key-sources",
        [
            "alias",
            "add",
            "x",
            "--spoke",
            "aha",
            "--url",
            "https://acme.aha.io",
            "--api-key-env",
            "HOME",
            "--api-key-stdin",
        ],
        2,
        "--api-key-stdin",
        {},
    ),
    (
        "alias-unset-key-env",
        [
            "alias",
            "add",
            "x",
            "--spoke",
            "aha",
            "--url",
            "https://acme.aha.io",
            "--api-key-env",
            "SAAS_LICENSE_CORPUS_UNSET",
        ],
        2,
        "--api-key-env",
        {},
    ),
    (
        "alias-bad-name",
        ["alias", "add", "Bad Name", "--spoke", "aha", "--url", "https://acme.aha.io"],
        2,
        "alias.name",
        {},
    ),
    (
        "alias-unknown-spoke",
        ["alias", "add", "x", "--spoke", "nope", "--url", "https://acme.aha.io"],
        1,
        "nope",
        {},
    ),
    (
        "alias-missing-parent",
        ["alias", "add", "x", "--spoke", "aha", "--url", "https://acme.aha.io", "--parent", "nope"],
        2,
        "alias.parent",
        {},
    ),
    # -- workspace paths --------------------------------------------------------------------
    ("workspace-dev-null", ["--workspace", "/dev/null", "rules"], 2, "/dev/null", {}),
    (
        "workspace-mysql",
        ["--workspace", "mysql://u@db.example/licenses", "rules"],
        2,
        "mysql",
        {},
    ),
    ("workspace-sqlite-url", ["--workspace", "sqlite:///tmp/w.db", "rules"], 2, "sqlite://", {}),
    ("workspace-missing", ["--workspace", "{dir}/missing.db", "rules"], 2, "no workspace at", {}),
    (
        "workspace-missing-after",
        ["rules", "--workspace", "{dir}/missing.db"],
        2,
        "no workspace at",
        {},
    ),
    ("workspace-typo-suggests", ["--workspace", "{ws}x", "candidates"], 2, "did you mean", {}),
    ("workspace-directory", ["--workspace", "{dir}", "rules"], 2, "--workspace", {}),
    (
        "workspace-in-missing-dir",
        ["--workspace", "{dir}/no/such/dir/w.db", "jobs"],
        2,
        "does not exist",
        {},
    ),
    # -- candidates, reclaim, undo, jobs, audit ---------------------------------------------
    ("candidates-unknown-profile", ["candidates", "--profile", "no-such"], 2, "no-such", {}),
    (
        "candidates-unknown-profile-json",
        ["candidates", "--profile", "no-such", "--json"],
        2,
        "no-such",
        {},
    ),
    ("candidates-bad-state", ["candidates", "--state", "open"], 2, "--state", {}),
    ("candidates-negative-limit", ["candidates", "--limit", "-1"], 2, "--limit", {}),
    ("candidates-show-missing", ["candidates", "show", "99999"], 2, "candidate", {}),
    ("candidates-keep-missing", ["candidates", "keep", "99999"], 1, "99999", {}),
    (
        "candidates-skip-cooldown",
        ["candidates", "skip", "1", "--cooldown-days", "99999"],
        2,
        "--cooldown-days",
        {},
    ),
    ("candidates-propose-missing", ["candidates", "propose", "99999"], 2, "subscription", {}),
    ("reclaim-unknown-profile", ["reclaim", "nope"], 2, "nope", {}),
    ("reclaim-cap-without-apply", ["reclaim", "aha", "--cap", "5"], 2, "--cap", {}),
    ("reclaim-unknown-plan", ["reclaim", "aha", "--apply", "nosuch", "--yes"], 2, "plan", {}),
    ("reclaim-negative-cap", ["reclaim", "aha", "--apply", "x", "--cap", "-1"], 2, "--cap", {}),
    ("reclaim-negative-limit", ["reclaim", "aha", "--limit", "-2"], 2, "--limit", {}),
    ("undo-missing", ["undo", "99999", "--yes"], 2, "candidate", {}),
    ("jobs-unknown-profile", ["jobs", "--profile", "nope"], 2, "nope", {}),
    ("jobs-scheduled-unknown-profile", ["jobs", "--scheduled", "--profile", "nope"], 2, "nope", {}),
    ("audit-unknown-profile", ["audit", "--profile", "nope"], 2, "nope", {}),
    ("outbox-unknown-profile", ["outbox", "--profile", "nope"], 2, "nope", {}),
    ("list-unknown-model", ["entitlements", "list", "--model", "Aha! Roadmap"], 2, "--model", {}),
    ("jobs-zero-limit", ["jobs", "--limit", "0"], 2, "--limit", {}),
    ("jobs-unlock-missing", ["jobs", "unlock", "nope"], 2, "nope", {}),
    ("audit-bad-since", ["audit", "--since", "yesterday"], 2, "--since", {}),
    ("run-nothing", ["run"], 2, "PROFILE", {}),
    ("run-unknown-profile", ["run", "nope"], 2, "nope", {}),
    ("validate-unknown-profile", ["validate", "nope"], 2, "nope", {}),
    ("publish-unknown-profile", ["publish", "nope"], 2, "nope", {}),
    ("connect-nothing", ["connect", "aha"], 2, "--client-id", {}),
    ("connect-unknown-profile", ["connect", "nope"], 2, "nope", {}),
    (
        "connect-unset-key-env",
        ["connect", "aha", "--api-key-env", "SAAS_LICENSE_CORPUS_UNSET"],
        2,
        "--api-key-env",
        {},
    ),
    (
        "connect-two-key-sources",
        ["connect", "aha", "--api-key-env", "HOME", "--api-key-stdin"],
        2,
        "--api-key-stdin",
        {},
    ),
    (
        "connect-two-secret-sources",
        [
            "connect",
            "aha",
            "--client-id",
            "c",
            "--client-secret-env",
            "HOME",
            "--client-secret-stdin",
        ],
        2,
        "--client-secret-stdin",
        {},
    ),
    ("reconcile-negative-limit", ["reconcile", "--limit", "-1"], 2, "--limit", {}),
    ("outbox-bad-status", ["outbox", "--status", "lost"], 2, "--status", {}),
    # -- models -----------------------------------------------------------------------------
    ("models-map-unknown-model", ["models", "map", "aha.x", "Nope"], 2, "Nope", {}),
    (
        "models-map-create-no-publisher",
        ["models", "map", "aha.x", "New", "--create"],
        2,
        "--publisher",
        {},
    ),
    ("models-add-existing", ["models", "add", RM, "--publisher", "Aha!"], 2, "software_model", {}),
    ("models-add-blank", ["models", "add", " ", "--publisher", "Aha!"], 2, "software_model", {}),
    # -- entitlements add / edit / retire ---------------------------------------------------
    *[
        (
            f"add-{name}",
            [
                "entitlements",
                "add",
                "--model",
                RM,
                "--rights",
                "10",
                "--unit-cost",
                "59.00",
                "--currency",
                "USD",
                "--start",
                "2026-01-01",
                *extra,
            ],
            2,
            field,
            {},
        )
        for name, extra, field in [
            ("european-amount", ["--unit-cost", "1.200,50"], "--unit-cost"),
            ("decimal-comma", ["--unit-cost", "12,50"], "--unit-cost"),
            ("exponent-amount", ["--unit-cost", "1e3"], "--unit-cost"),
            ("nan-amount", ["--unit-cost", "nan"], "--unit-cost"),
            ("negative-amount", ["--unit-cost", "-5"], "--unit-cost"),
            ("absurd-amount", ["--unit-cost", "99999999999"], "--unit-cost"),
            ("spaced-amount", ["--unit-cost", "1 200.50"], "--unit-cost"),
            ("unknown-currency", ["--currency", "XYZ"], "--currency"),
            ("metal-currency", ["--currency", "XAU"], "--currency"),
            ("short-currency", ["--currency", "US"], "--currency"),
            ("absurd-rights", ["--rights", "100000000000000000000000"], "--rights"),
            ("exponent-rights", ["--rights", "1e23"], "--rights"),
            ("negative-rights", ["--rights", "-3"], "--rights"),
            ("typo-model", ["--model", "Aha! Roadmap"], "--model"),
            ("word-date", ["--start", "yesterday"], "--start"),
            ("impossible-date", ["--start", "2026-02-30"], "--start"),
            ("end-before-start", ["--end", "2025-12-31"], "--end"),
            ("term-without-end", ["--period", "term"], "--end"),
            ("weekly-period", ["--period", "weekly"], "--period"),
            ("unknown-profile", ["--profile", "nope"], "--profile"),
            ("second-currency", ["--currency", "EUR"], "--currency"),
        ]
    ],
    (
        "edit-missing-entitlement",
        ["entitlements", "edit", "999", "--rights", "3"],
        2,
        "entitlement.id",
        {},
    ),
    ("edit-nothing", ["entitlements", "edit", "1"], 2, "options", {}),
    (
        "edit-european-amount",
        ["entitlements", "edit", "1", "--unit-cost", "1.200,50"],
        2,
        "--unit-cost",
        {},
    ),
    ("edit-currency", ["entitlements", "edit", "1", "--currency", "XYZ"], 2, "--currency", {}),
    ("retire-bad-date", ["entitlements", "retire", "1", "--on", "soon"], 2, "--on", {}),
    ("list-json-and-csv", ["entitlements", "list", "--json", "--csv"], 2, "--csv", {}),
    ("list-negative-limit", ["entitlements", "list", "--limit", "-1"], 2, "--limit", {}),
    # -- entitlements import: one bad row and nothing is imported ---------------------------
    (
        "csv-european-amount",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "unit_cost",
        {"e.csv": _csv(f'{RM},10,"1.200,50",USD,2026-01-01')},
    ),
    (
        "csv-absurd-rights",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "purchased_rights",
        {"e.csv": _csv(f"{RM},1e23,59.00,USD,2026-01-01")},
    ),
    (
        "csv-long-rights",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "purchased_rights",
        {"e.csv": _csv(f"{RM},{10**23},59.00,USD,2026-01-01")},
    ),
    (
        "csv-fractional-rights",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "purchased_rights",
        {"e.csv": _csv(f"{RM},10.5,59.00,USD,2026-01-01")},
    ),
    (
        "csv-unknown-currency",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "currency",
        {"e.csv": _csv(f"{RM},10,59.00,XYZ,2026-01-01")},
    ),
    (
        "csv-mixed-currencies",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "currency",
        {
            "e.csv": _csv(
                "Aha! Develop,10,59.00,EUR,2026-01-01", "Aha! Develop,10,59.00,GBP,2026-01-01"
            )
        },
    ),
    (
        "csv-unknown-model",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "software_model",
        {"e.csv": _csv("Aha! Roadmap,10,59.00,USD,2026-01-01")},
    ),
    (
        "csv-day-first-date",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "start",
        {"e.csv": _csv(f"{RM},10,59.00,USD,31/01/2026")},
    ),
    (
        "csv-float-like-amount",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "unit_cost",
        {"e.csv": _csv(f"{RM},10,5.9e1,USD,2026-01-01")},
    ),
    (
        "csv-last-row-bad",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        ":4: purchased_rights",
        {
            "e.csv": _csv(
                f"{RM},10,59.00,USD,2026-01-01",
                f"{RM},11,59.00,USD,2026-01-01",
                f"{RM},ten,59.00,USD,2026-01-01",
            )
        },
    ),
    (
        "csv-binary",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "csv",
        {"e.csv": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"},
    ),
    (
        "csv-nul-bytes",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "NUL",
        {"e.csv": CSV_HEAD + f"{RM},10\x00,59.00,USD,2026-01-01\n"},
    ),
    ("csv-empty", ["entitlements", "import", "{dir}/e.csv"], 2, "header", {"e.csv": ""}),
    (
        "csv-unknown-column",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "seats",
        {"e.csv": "software_model,seats\nx,1\n"},
    ),
    (
        "csv-missing-column",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "unit_cost",
        {"e.csv": "software_model,purchased_rights,currency,start\nx,1,USD,2026-01-01\n"},
    ),
    (
        "csv-short-row",
        ["entitlements", "import", "{dir}/e.csv"],
        2,
        "row",
        {"e.csv": _csv(f"{RM},10,59.00")},
    ),
    ("csv-missing-file", ["entitlements", "import", "{dir}/none.csv"], 2, "PATH", {}),
    # -- reconcile and report ---------------------------------------------------------------
    ("reconcile-csv-without-table", ["reconcile", "--csv"], 2, "--table", {}),
    ("reconcile-bad-table", ["reconcile", "--table", "everything"], 2, "--table", {}),
    ("reconcile-every-zero", ["reconcile", "--every", "0"], 2, "--every", {}),
    ("report-nothing", ["report"], 2, "--html", {}),
    ("report-html-missing-dir", ["report", "--html", "{dir}/missing/r.html"], 2, "--html", {}),
    ("report-json-missing-dir", ["report", "--json", "{dir}/missing/r.json"], 2, "--json", {}),
    (
        "report-csv-into-a-file",
        ["report", "--csv", "{dir}/file.txt"],
        2,
        "--csv",
        {"file.txt": "x"},
    ),
]


def _fill(arg: str, ws: Path, folder: Path) -> str:
    return arg.replace("{ws}", str(ws)).replace("{dir}", str(folder))


@pytest.mark.parametrize(
    ("argv", "code", "field", "files"),
    [pytest.param(argv, code, field, files, id=name) for name, argv, code, field, files in CASES],
)
def test_refused_in_one_line_and_nothing_changes(
    ws_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    code: int,
    field: str,
    files: dict[str, str | bytes],
) -> None:
    folder = tmp_path / "case"
    folder.mkdir()
    for name, content in files.items():
        target = folder / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")
    monkeypatch.setenv("SAAS_LICENSE_WORKSPACE", str(ws_path))
    monkeypatch.delenv("SAAS_LICENSE_CORPUS_UNSET", raising=False)
    before = dump(ws_path)
    result = CliRunner().invoke(cli, [_fill(a, ws_path, folder) for a in argv], input="")
    lines = result.stderr.splitlines()
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, Exception)
    assert lines and "error:" in lines[0], result.stderr
    message = lines[0]
    if message.endswith("nothing was imported"):  # a CSV import: then each bad row, indented
        assert all(line.startswith("  ") for line in lines[1:]), result.stderr
        message = lines[1]
    else:
        assert len(lines) == 1, result.stderr
    assert field in message, result.stderr
    assert dump(ws_path) == before
    assert not (folder / "missing.db").exists() and not (folder / "no").exists()
    assert not (folder / "missing").exists()


def test_the_corpus_is_large() -> None:
    assert len(CASES) >= 100
    assert len({c[0] for c in CASES}) == len(CASES)
