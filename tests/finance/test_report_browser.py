"""The HTML report in a real browser: headless Chromium renders it, and the charts are painted.

Skipped only when no Chromium is installed *and* SAAS_LICENSE_REQUIRE_BROWSER is unset; CI sets
it (and installs Debian's ``chromium``), so there a missing browser fails the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from saas_license.reports import PALETTE, render_html

from . import _png
from ._data import estate

REQUIRE = os.environ.get("SAAS_LICENSE_REQUIRE_BROWSER", "") not in ("", "0")


def _browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    if REQUIRE:
        pytest.fail("SAAS_LICENSE_REQUIRE_BROWSER is set but no chromium is installed")
    pytest.skip("chromium is not installed (set SAAS_LICENSE_REQUIRE_BROWSER=1 to require it)")


def screenshot(html_file: Path, out: Path, *, width: int = 1240, height: int = 1300) -> bytes:
    """Render ``html_file`` in headless Chromium (no network) and return the PNG."""
    profile = out.parent / "chromium-profile"
    cmd = [
        _browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        f"--screenshot={out}",
        html_file.as_uri(),
    ]
    subprocess.run(cmd, capture_output=True, timeout=60, check=True)  # noqa: S603 - fixed argv
    return out.read_bytes()


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@pytest.mark.browser
def test_charts_are_drawn_in_chromium(tmp_path: Path) -> None:
    result = estate()
    page = tmp_path / "report.html"
    page.write_text(render_html(result), encoding="utf-8")
    started = time.perf_counter()
    png = screenshot(page, tmp_path / "shot.png")
    seconds = time.perf_counter() - started
    counts = _png.colour_counts(png)
    painted = {key: counts[_rgb(colour)] for key, colour in PALETTE.items()}
    # every series of every chart is on screen, well beyond its 10x10 legend swatch
    for key, pixels in painted.items():
        assert pixels > 400, f"{key} bars not painted: {painted}"
    # bars are drawn to scale: utilisation bars share a height, so their areas follow the sums
    # over models of owned (18), used (17), active (8) and inactive (9), minus the legend swatches
    sums = {
        key: sum(getattr(r, attr) for r in result.models)
        for key, attr in (
            ("owned", "rights_owned"),
            ("used", "rights_used"),
            ("active", "active_seats"),
            ("inactive", "inactive_seats"),
        )
    }
    per_unit = {key: (painted[key] - 100) / sums[key] for key in sums}
    assert max(per_unit.values()) / min(per_unit.values()) < 1.05, per_unit
    assert seconds < 30
