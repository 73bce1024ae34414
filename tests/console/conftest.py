"""The console's test harness: a real `loyalty serve` (two workers) on loopback with the
keys each role needs, and headless Chromium pages (`page` records and aborts every request
that would leave loopback in `outside`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page

from api.app import create_app
from store.db.database import Database
from store.settings import Settings
from tests.api.server import Server, create_key, running_server
from tests.console.browser import Outside, launched, new_page
from tests.store.db_support import database_url, db, migrated_db, scratch_database  # noqa: F401
from tests.store.helpers import retail_sources


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


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    # Keys are re-checked on every request (no cache), so a revocation shows at once.
    settings = {"LOYALTY_API_KEY_CACHE_SECONDS": "0"}
    with scratch_database(tmp) as url, running_server(url, tmp, workers=2,
                                                      settings=settings) as srv:
        yield Console(srv, srv.admin_key, create_key(url, "admin"), create_key(url, "viewer"),
                      srv.key)


@pytest.fixture(scope="module")  # open, Playwright marks its loop running (tests/conftest.py)
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


def program_files(folder: Path, program: str, version: int, *, approvals: int = 0,
                  edit: tuple[str, str] | None = None,
                  earning: str | None = None) -> list[Path]:
    """The shipped retail ruleset as program `program` at `version`, written as files under
    `folder` (each test its own program, so tests sharing the server do not meet)."""
    sources = retail_sources()
    header = sources["program.yaml"].replace("program: retail", f"program: {program}")
    header = header.replace("version: 1", f"version: {version}")
    if approvals:
        header += f"approvals: {{required: {approvals}}}\n"
    sources["program.yaml"] = header
    if edit:
        sources["earning.yaml"] = sources["earning.yaml"].replace(*edit)
    if earning is not None:
        sources["earning.yaml"] = earning
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in sources.items():
        (folder / name).write_text(text, encoding="utf-8")
        paths.append(folder / name)
    return paths


def console_app(db: Database, **settings: object):  # type: ignore[no-untyped-def]
    """The app in this process (for tests that need no browser), without background jobs."""
    return create_app(Settings(database_url=db.url, jobs_enabled=False,
                               api_key_cache_seconds=0, **settings), db)


def form_log_in(client: TestClient, key: str):  # type: ignore[no-untyped-def]
    """Log in through the form (with its CSRF token); the answer to the POST."""
    form = client.get("/console/login").text
    token = re.search(r'name="csrf" value="([^"]+)"', form)
    assert token
    return client.post("/console/login", data={"key": key, "csrf": token.group(1)},
                       follow_redirects=False)
