"""Headless Chromium (Debian's `chromium`, driven by Playwright without a browser download)
for the console tests, with helpers to log in, record requests and check screenshots."""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Playwright, Route, sync_playwright

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def chromium_path() -> str:
    """Debian's chromium; skipped locally when missing, a failure in CI."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and not os.environ.get("CI"):
        pytest.skip("chromium is not installed (CI installs it and runs this test)")
    assert found, "CI must have chromium (apt-get install chromium)"
    return found


@contextmanager
def launched() -> Iterator[tuple[Playwright, Browser]]:
    executable = chromium_path()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"])
        try:
            yield playwright, browser
        finally:
            browser.close()


class Outside:
    """Every request a page tried to send off loopback (each is aborted)."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def route(self, route: Route) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
            route.continue_()
        else:
            self.urls.append(url)
            route.abort()


def new_page(browser: Browser) -> tuple[Page, Outside]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside = Outside()
    context.route("**/*", outside.route)
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page, outside


def log_in(page: Page, url: str, key: str) -> None:
    page.goto(f"{url}/console/login")
    page.fill("#key", key)
    page.click("button[type=submit]")


def distinct_colours(browser: Browser, png: bytes) -> int:
    """How many colours a screenshot has, counted by the browser's own PNG decoder."""
    context = browser.new_context()
    try:
        scratch = context.new_page()
        return int(scratch.evaluate(
            """async (data) => {
                 const img = new Image(); img.src = 'data:image/png;base64,' + data;
                 await img.decode();
                 const c = document.createElement('canvas');
                 c.width = img.width; c.height = img.height;
                 const g = c.getContext('2d'); g.drawImage(img, 0, 0);
                 const px = g.getImageData(0, 0, c.width, c.height).data;
                 const seen = new Set();
                 for (let i = 0; i < px.length; i += 4 * 7) seen.add((px[i] << 16) | (px[i+1] << 8) | px[i+2]);
                 return seen.size;
               }""", base64.b64encode(png).decode()))
    finally:
        context.close()


def screenshot(browser: Browser, page: Page, name: str, folder: Path) -> Path:
    """A full-page PNG under `folder` (and $LOYALTY_SCREENSHOTS when set), checked not blank:
    the page shows text and the picture has more than a handful of colours."""
    png = page.screenshot(full_page=True)
    path = folder / f"{name}.png"
    path.write_bytes(png)
    wanted = os.environ.get("LOYALTY_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        (Path(wanted) / f"{name}.png").write_bytes(png)
    assert page.inner_text("body").strip(), f"{name}: the page shows no text"
    assert distinct_colours(browser, png) > 8, f"{name}: the screenshot is blank"
    return path


def publish(page: Page, url: str, files: list[Path], message: str = "") -> int:
    """Upload `files` on the publish page; the status of the answer."""
    page.goto(f"{url}/console/publish")
    page.set_input_files("#files", [str(f) for f in files])
    page.fill("#message", message)
    with page.expect_response(lambda r: r.url.endswith("/console/publish")
                              and r.request.method == "POST") as answer:
        page.click("text=Validate and publish")
    page.wait_for_load_state()
    return answer.value.status
