"""The HTML report: autoescaped, self-contained, and what a person sees in a browser."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from engine.simulation.report import render


@pytest.fixture(scope="module")
def doc(compare_doc: dict[str, Any]) -> dict[str, Any]:
    return compare_doc


def test_self_contained_and_escaped(doc: dict[str, Any]) -> None:
    hostile = dict(doc, by_rule={**doc["by_rule"], "<script>alert(1)</script>": 1})
    html = render(hostile)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "@import" not in html and "@font-face" not in html
    assert html.count("<svg") == 4
    assert doc["redemptions"]  # the generated history redeems: a table of the outcomes
    table = html[html.index('<table id="redemptions">'):]
    for outcome, count in doc["redemptions"].items():
        assert f"<code>{outcome}</code></td><td>{count:,}</td>" in table


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and not os.environ.get("CI"):
        pytest.skip("chromium is not installed (CI installs it and runs this test)")
    assert found, "CI must have chromium (apt-get install chromium)"
    return found


def _run(chromium: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=True)


def test_report_renders_in_headless_chromium(doc: dict[str, Any], tmp_path: Path) -> None:
    chromium = _chromium()
    page = tmp_path / "report.html"
    page.write_text(render(doc), encoding="utf-8")
    dom = _run(chromium, tmp_path / "profile", "--dump-dom", page.as_uri()).stdout
    issued = f"{doc['totals']['points_issued']:,}"
    summary = dom[dom.index('id="summary"'):dom.index("</div>\n<p>Books")]
    assert issued in summary
    assert f"{doc['totals']['points_outstanding']:,}" in summary
    assert "balanced" in dom and "NOT balanced" not in dom
    charts = re.findall(r'<svg class="chart"[^>]*width="(\d+)" height="(\d+)"', dom)
    assert len(charts) == 4 and all(int(w) > 0 and int(h) > 0 for w, h in charts)
    assert dom.count("<rect") > 50
    shot = tmp_path / "shot.png"
    _run(chromium, tmp_path / "profile2", "--window-size=1000,2400", f"--screenshot={shot}",
         page.as_uri())
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 2400)
    assert len(data) > 30_000  # charts and text, not a blank page
