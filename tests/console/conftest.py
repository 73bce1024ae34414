"""The console's test harness: a real `loyalty serve` (two workers) on loopback with the
keys each role needs, and headless Chromium pages (`page` records and aborts every request
that would leave loopback in `outside`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page

from tests.api.server import Server, create_key, running_server
from tests.console.browser import Outside, launched, new_page
from tests.store.db_support import scratch_database


@dataclass
class Console:
    """The server and a key for each kind of user."""

    server: Server
    admin: str  # publishes
    approver: str  # a second admin: four eyes
    viewer: str
    checkout: str  # evaluate + commit: may not log in

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    # Keys are re-checked on every request (no cache), so a revocation shows at once.
    settings = {"LOYALTY_API_KEY_CACHE_SECONDS": "0"}
    with scratch_database(tmp) as url, running_server(url, tmp, workers=2,
                                                      settings=settings) as srv:
        yield Console(srv, srv.admin_key, create_key(url, "admin"), create_key(url, "viewer"),
                      srv.key)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with launched() as (_, found):
        yield found


@dataclass
class Tab:
    page: Page
    outside: Outside


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    page, outside = new_page(browser)
    try:
        yield Tab(page, outside)
    finally:
        page.context.close()
