"""Progress bars: drawn on a terminal (the pipeline's callback, or a command's stages such as
``report``'s), never with --json or in a pipe."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from saas_license import Workspace
from saas_license.cli import main
from saas_license.cli._progress import StageProgress, StepProgress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_one_bar_per_step_with_the_count() -> None:
    out = _Terminal()
    with StepProgress(file=out) as progress:
        for n in (200, 400, 600):
            progress("download", n)
        progress("activity", 200)
    text = out.getvalue()
    assert "download" in text and "600" in text
    assert "activity" in text and "200" in text


def test_json_output_and_pipes_get_nothing() -> None:
    for progress, out in (
        (StepProgress(as_json=True, file=(tty := _Terminal())), tty),
        (StepProgress(file=(pipe := io.StringIO())), pipe),
    ):
        progress("download", 200)
        progress.close()
        assert out.getvalue() == ""
        assert not progress.enabled


def test_a_terminal_gets_one_bar_over_the_stages_naming_each_while_it_runs() -> None:
    out = _Terminal()
    seen: list[str] = []
    with StageProgress(["reconcile", "html", "csv"], label="report", file=out) as progress:
        for stage in ("reconcile", "html", "csv"):
            with progress.stage(stage):
                seen.append(out.getvalue().rsplit("\r", 1)[-1])
    assert [line.split("]")[-1].split() for line in seen] == [
        ["0/3", "reconcile"],
        ["1/3", "html"],
        ["2/3", "csv"],
    ]
    assert out.getvalue().startswith("\r") and "3/3" in out.getvalue()
    assert out.getvalue().endswith("\n")


def test_stages_draw_nothing_with_json_or_in_a_pipe_and_must_be_declared() -> None:
    for progress, out in (
        (
            StageProgress(["reconcile"], label="report", as_json=True, file=(tty := _Terminal())),
            tty,
        ),
        (StageProgress(["reconcile"], label="report", file=(pipe := io.StringIO())), pipe),
    ):
        with progress, progress.stage("reconcile"):
            pass
        assert out.getvalue() == ""
        assert not progress.enabled
    progress = StageProgress(["reconcile"], label="report", file=_Terminal())
    with pytest.raises(ValueError, match="unknown stage 'html'"), progress.stage("html"):
        pass


def _report(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str, tty: bool
) -> tuple[str, str]:
    terminal = _Terminal()
    if tty:
        monkeypatch.setattr(sys, "stderr", terminal)
    code: object = 0
    try:
        main(["report", *args])
    except SystemExit as exc:
        code = exc.code
    finally:
        monkeypatch.undo()
    out, err = capsys.readouterr()
    assert not code, err
    return out, terminal.getvalue() + err


@pytest.fixture
def ws_path(published: Workspace) -> str:
    published.jobs.run("aha")
    assert published.path is not None
    return str(published.path)


def test_report_shows_its_stages_on_a_terminal_and_nothing_in_a_pipe(
    ws_path: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def args(name: str) -> list[str]:
        return ["--html", str(tmp_path / f"{name}.html"), "--csv", str(tmp_path / name)]

    piped_out, piped_err = _report(
        capsys, monkeypatch, "--workspace", ws_path, *args("p"), tty=False
    )
    tty_out, tty_err = _report(capsys, monkeypatch, "--workspace", ws_path, *args("t"), tty=True)
    assert piped_err == ""
    assert "report" in tty_err and "0/3  reconcile" in tty_err
    assert "1/3  html" in tty_err and "2/3  csv" in tty_err and "3/3" in tty_err
    # stdout is the same either way (the "wrote" lines, after the bar)
    assert tty_out.replace(str(tmp_path / "t"), str(tmp_path / "p")) == piped_out
    assert piped_out.startswith(f"wrote {tmp_path / 'p.html'}\n")
    assert piped_out.count("wrote ") == 1 + len(list((tmp_path / "p").glob("*.csv")))


def test_report_with_json_draws_nothing_even_on_a_terminal(
    ws_path: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = tmp_path / "r.json"
    out, err = _report(capsys, monkeypatch, "--workspace", ws_path, "--json", str(target), tty=True)
    assert err == "" and out == f"wrote {target}\n" and target.is_file()
