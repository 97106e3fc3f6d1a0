"""``saas-license directory load/show/unresolved``: counts, JSON and CSV, one-line errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from saas_license_aha.sandbox import SandboxApp

from ..lifecycle.test_cli_lifecycle import _cli, served  # noqa: F401 - the fixture
from .conftest import HEADER, write


def test_load_show_and_unresolved(
    served: tuple[Path, SandboxApp],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    ws, _ = served
    code, out, _ = _cli(capsys, ws, "directory")
    assert code == 0 and "no directory loaded" in out
    assert _cli(capsys, ws, "run", "aha")[0] == 0
    code, out, err = _cli(capsys, ws, "directory", "load", str(write(tmp_path)))
    assert code == 0, err
    assert "loaded 8 people (9 addresses)" in out
    assert "resolved to a person: 9 of 11" in out and "not in the directory: 2" in out
    code, out, _ = _cli(capsys, ws, "directory", "show")
    assert "8 people" in out and "departments: 3: Engineering, IT, Sales" in out
    code, out, _ = _cli(capsys, ws, "directory", "show", "--json")
    doc = json.loads(out)
    assert doc["resolved_seats"] == 9 and doc["people"][2]["aliases"] == ["BEN@acme.test"]
    code, out, _ = _cli(capsys, ws, "directory", "unresolved", "--profile", "aha")
    assert "2 of 11 seats" in out and "dee@partner.test" in out and "eli@acme.test" in out
    code, out, _ = _cli(capsys, ws, "directory", "unresolved", "--csv")
    rows = list(csv.reader(io.StringIO(out)))
    assert rows == [
        ["address", "seats", "profiles"],
        ["dee@partner.test", "1", "aha"],
        ["eli@acme.test", "1", "aha"],
    ]
    code, out, _ = _cli(capsys, ws, "directory", "unresolved", "--json")
    assert [u["address"] for u in json.loads(out)["unresolved"]] == [
        "dee@partner.test",
        "eli@acme.test",
    ]
    bad = write(tmp_path, HEADER + "x@acme.test,,X,,,,\nx@ACME.test,,Y,,,,\n", "bad.csv")
    code, _, err = _cli(capsys, ws, "directory", "load", str(bad))
    assert code == 2 and "line 3" in err and err.count("\n") >= 1
    code, out, _ = _cli(capsys, ws, "directory", "show")
    assert "8 people" in out  # the bad file changed nothing
    code, _, err = _cli(capsys, ws, "directory", "unresolved", "--profile", "nope")
    assert code != 0 and "nope" in err
