"""`/docs` works offline: Swagger UI from the server's own assets, no request off loopback."""

from __future__ import annotations

from pathlib import Path

import httpx
from playwright.sync_api import Browser

from tests.console.browser import screenshot
from tests.console.conftest import Console, Tab


def test_docs_load_with_nothing_from_outside(console: Console, browser: Browser, tab: Tab,
                                             tmp_path: Path) -> None:
    page = tab.page
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{console.url}/docs")
    page.wait_for_selector(".swagger-ui .information-container h2.title")
    assert page.inner_text(".swagger-ui .information-container h2.title").startswith(
        "Loyalty rules API")
    page.wait_for_selector(".opblock")
    assert page.locator(".opblock").count() >= 20  # the operations are listed
    assert "/v1/rulesets" in page.inner_text(".swagger-ui")
    screenshot(browser, page, "docs", tmp_path)
    assert tab.outside.urls == []  # nothing was even attempted off loopback
    assert any(u.endswith("/docs/assets/swagger-ui-bundle.js") for u in requested)
    assert all(u.startswith((console.url, "data:")) for u in requested), requested


def test_docs_assets_carry_their_licence(console: Console) -> None:
    licence = httpx.get(f"{console.url}/docs/assets/LICENSE")
    assert licence.status_code == 200 and "Apache License" in licence.text
    assert httpx.get(f"{console.url}/redoc").status_code == 404  # ReDoc (a CDN page) is gone
