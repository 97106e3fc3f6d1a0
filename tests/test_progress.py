"""Progress bars: drawn on a terminal from the pipeline's callback, never with --json or in a pipe."""

from __future__ import annotations

import io

from saas_license.cli._progress import StepProgress


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
