"""Entry points read in one pass give what importlib.metadata gives: the same entry points, in
the same order, the same shadowing; anything it cannot read the same way goes to importlib."""

from __future__ import annotations

import contextlib
import importlib.metadata
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from saas_license import _entry_points
from saas_license._entry_points import _scan, entry_points


def _by_importlib(paths: list[str]) -> dict[str, list[tuple[str, str]]]:
    with _path(paths):
        eps = importlib.metadata.entry_points()
        groups = eps.groups if hasattr(eps, "groups") else set(eps)
        return {
            g: [(e.name, e.value) for e in importlib.metadata.entry_points(group=g)] for g in groups
        }


def _by_scan(paths: list[str]) -> dict[str, list[tuple[str, str]]]:
    return {g: [(e.name, e.value) for e in eps] for g, eps in _scan(paths).items()}


@contextlib.contextmanager
def _path(paths: list[str]) -> Iterator[None]:
    saved = sys.path[:]
    sys.path[:] = paths
    try:
        yield
    finally:
        sys.path[:] = saved


def test_the_installed_distributions_read_the_same() -> None:
    assert _by_scan(sys.path) == _by_importlib(sys.path)
    assert [e.name for e in entry_points("saas_license")] == [
        e.name for e in importlib.metadata.entry_points(group="saas_license")
    ]


_names = st.sampled_from(["alpha", "Alpha", "al-pha", "al_pha", "al.pha", "beta", "gamma-x"])
_lines = st.lists(
    st.one_of(
        st.sampled_from(["[saas_license]", "[saas_license.notifiers]", "[other]", "", "# note"]),
        st.tuples(st.sampled_from(["aha", "x", " y "]), st.sampled_from(["m.n:o", "pkg"])).map(
            lambda kv: f"{kv[0]} = {kv[1]}"
        ),
    ),
    max_size=8,
)
_dist = st.tuples(
    _names,
    st.sampled_from(["-1.0.dist-info", "-2.0.dist-info", ".dist-info", "-0.1.egg-info"]),
    st.one_of(st.none(), _lines),
)


@settings(max_examples=60)
@given(dirs=st.lists(st.lists(_dist, max_size=4), min_size=1, max_size=3))
def test_any_layout_reads_as_importlib_reads_it(
    dirs: list[list[tuple[str, str, list[str] | None]]],
) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i, dists in enumerate(dirs):
            root = Path(tmp) / f"site{i}"
            root.mkdir()
            for name, suffix, lines in dists:
                info = root / f"{name}{suffix}"
                info.mkdir(exist_ok=True)
                if lines is not None:
                    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
            paths.append(str(root))
        paths.append(str(Path(tmp) / "missing"))
        assert _by_scan(paths) == _by_importlib(paths)


def test_loading_resolves_module_and_dotted_attribute() -> None:
    ep = _entry_points._EntryPoint("x", "saas_license.http:HttpOptions.retry_policy", "g")
    from saas_license.http import HttpOptions

    assert ep.load() is HttpOptions.retry_policy
    assert _entry_points._EntryPoint("m", "saas_license._time", "g").load().__name__ == (
        "saas_license._time"
    )


def test_a_zip_on_the_path_is_left_to_importlib(tmp_path: Path) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zipped-1.0.dist-info/METADATA", "Name: zipped\nVersion: 1.0\n")
        zf.writestr("zipped-1.0.dist-info/entry_points.txt", "[saas_license]\nzipped = zz\n")
    with _path([*sys.path, str(archive)]):
        got = [(e.name, e.value) for e in entry_points("saas_license")]
    assert ("zipped", "zz") in got


def test_a_new_distribution_on_the_path_is_seen(tmp_path: Path) -> None:
    before = [e.name for e in entry_points("saas_license.test-group")]
    info = tmp_path / "late-1.0.dist-info"
    info.mkdir()
    (info / "entry_points.txt").write_text("[saas_license.test-group]\nlate = late_mod\n")
    with _path([*sys.path, str(tmp_path)]):
        assert [e.name for e in entry_points("saas_license.test-group")] == [*before, "late"]


def test_a_daily_run_never_imports_importlib_metadata(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from saas_license import Workspace\n"
        "ws = Workspace.open(sys.argv[1], create=True)\n"
        "assert 'aha' in ws.spokes.names(), ws.spokes.names()\n"
        "ws.outbox.notifiers; ws.close()\n"
        "print('importlib.metadata' in sys.modules)\n"
    )
    done = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", code, str(tmp_path / "ws.db")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "False"
