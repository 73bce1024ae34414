"""A program's page in Chromium shows its version in shadow, the run's figures and the
run's HTML report in a frame, to a viewer; nothing loads from off loopback, and the text
keeps its contrast."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from playwright.sync_api import Browser

from tests.console.browser import log_in, screenshot
from tests.console.conftest import Console, Tab, program_files
from tests.console.test_pages import _low_contrast
from tests.store.helpers import order

PROGRAM = "shadowed"


def test_the_program_page_shows_the_version_in_shadow_and_its_report(
        console: Console, browser: Browser, tab: Tab, tmp_path: Path) -> None:
    admin = {"Authorization": f"Bearer {console.admin}"}
    for version, edit in ((1, None), (2, ("electronics: 2.0", "electronics: 3.0"))):
        files = program_files(tmp_path / f"v{version}", PROGRAM, version, edit=edit)
        body = {"sources": {f.name: f.read_text() for f in files}, "message": f"v{version}",
                "activate": "now" if version == 1 else "no"}
        answer = httpx.post(f"{console.url}/v1/rulesets", json=body, headers=admin, timeout=30)
        assert answer.status_code == 201, answer.text
    base = f"{console.url}/v1/programs/{PROGRAM}"
    started = httpx.put(f"{base}/shadow", json={"version": 2}, headers=admin, timeout=30)
    assert started.status_code == 200, started.text
    time.sleep(2.5)  # the server's other worker reads the runs in shadow every 2 s
    checkout = {"Authorization": f"Bearer {console.checkout}"}
    for i in range(3):
        r = httpx.post(f"{base}/orders", headers=checkout, timeout=30,
                       json=order(f"SH-{i}", member=f"SH-M{i}", amount="100.00",
                                  placed_at=datetime.now(UTC).isoformat()))
        assert r.status_code == 201, r.text
    deadline = time.monotonic() + 30
    while True:
        shadow = httpx.get(f"{base}/shadow/report", headers=admin, timeout=30).json()["shadow"]
        if shadow["evaluated"] == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert shadow["differences"]["points"] == 3

    log_in(tab.page, console.url, console.viewer)
    tab.page.goto(f"{console.url}/console/programs/{PROGRAM}")
    section = tab.page.locator("#shadow")
    text = section.inner_text()
    assert "in shadow" in text and "version 2" in text
    assert "commits\t3" in text and "points differences\t3" in text, text
    report = tab.page.frame_locator("iframe.report")
    assert "Shadow evaluation of shadowed version 2" in report.locator("h1").inner_text()
    assert "earning.categories.electronics" in report.locator("body").inner_text()
    screenshot(browser, tab.page, "console-program-shadow", tmp_path)
    assert _low_contrast(tab.page) == []
    assert tab.outside.urls == []

    stopped = httpx.delete(f"{base}/shadow", headers=admin, timeout=30)
    assert stopped.status_code == 200, stopped.text
    tab.page.reload()
    assert "The last shadow run, of version 2" in tab.page.locator("#shadow").inner_text()
