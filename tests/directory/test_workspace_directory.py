"""``ws.directory``: a snapshot loaded atomically and audited, seats resolved, unknown users listed."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from saas_license._directory import DirectoryError
from saas_license._errors import ConfigError

from ..lifecycle.conftest import Harness
from .conftest import HEADER, write


def test_load_resolves_seats_by_email_and_alias_and_lists_the_rest(
    harness: Harness, tmp_path: Path
) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    loaded = ws.directory.load(write(tmp_path))
    assert (loaded.people, loaded.addresses) == (8, 9)
    res = loaded.resolution
    # 11 seats: dee (1) and eli (1) are unknown; ben's 2 seats resolve through his alias
    assert (res.resolved_seats, res.unresolved_seats) == (9, 2)
    assert [(u.address, u.seats, u.profiles) for u in res.unresolved] == [
        ("dee@partner.test", 1, ("aha",)),
        ("eli@acme.test", 1, ("aha",)),
    ]
    assert res.resolved_people == 7  # svc, ana, ben, cy, fay, gus, hal
    ben = ws.directory.lookup("Ben@ACME.test")
    assert ben is not None and ben.email == "benjamin@acme.test"
    assert [p.email for p in ws.directory.people()][:2] == ["svc@acme.test", "ana@acme.test"]
    assert attrs.evolve(ws.directory.resolution("aha"), profile=None) == res
    entry = ws.audit.query(entity="directory")[-1]
    assert entry.action == "directory.loaded"
    assert entry.after is not None and entry.after["people"] == 8
    assert entry.after["unresolved_seats"] == 2


def test_a_bad_file_changes_nothing(harness: Harness, tmp_path: Path) -> None:
    ws = harness.ws
    ws.directory.load(write(tmp_path))
    before = (ws.directory.people(), ws.directory.source(), len(ws.audit.query(entity="directory")))
    clash = HEADER + "a@acme.test,,A,,,,\nb@acme.test,A@acme.test,B,,,,\n"
    with pytest.raises(DirectoryError) as err:
        ws.directory.load(write(tmp_path, clash, "clash.csv"))
    assert "line 3" in str(err.value) and "line 2" in str(err.value)
    with pytest.raises(ConfigError):
        ws.directory.load(tmp_path / "missing.csv")
    with pytest.raises(ConfigError, match="no directory plugin reads"):
        ws.directory.load("ldap://corp")
    after = (ws.directory.people(), ws.directory.source(), len(ws.audit.query(entity="directory")))
    assert after == before


def test_a_second_load_replaces_the_first_whole(harness: Harness, tmp_path: Path) -> None:
    ws = harness.ws
    ws.directory.load(write(tmp_path))
    ws.directory.load(write(tmp_path, HEADER + "zed@acme.test,ana@acme.test,Zed,,,,\n", "b.csv"))
    assert [p.email for p in ws.directory.people()] == ["zed@acme.test"]
    assert ws.directory.lookup("ben@acme.test") is None
    zed = ws.directory.lookup("ANA@acme.test")
    assert zed is not None and zed.email == "zed@acme.test"


def test_a_store_failure_mid_load_keeps_the_old_directory(
    harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = harness.ws
    ws.directory.load(write(tmp_path))
    people = ws.directory.people()

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("disk gone")

    monkeypatch.setattr(ws.directory, "_resolve", broken)  # after the rows were replaced
    with pytest.raises(RuntimeError):
        ws.directory.load(write(tmp_path, HEADER + "zed@acme.test,,Zed,,,,\n", "b.csv"))
    assert ws.directory.people() == people


def test_resolution_without_a_directory_lists_every_user(harness: Harness) -> None:
    ws = harness.ws
    ws.jobs.run("aha")
    res = ws.directory.resolution()
    assert res.resolved_seats == 0 and res.unresolved_seats == 11
    assert len(res.unresolved) == 9
    with pytest.raises(ConfigError):
        ws.directory.resolution("nope")
