"""Every console page in Chromium: a screenshot that is not blank, nothing loaded from off
loopback, text and buttons at a WCAG contrast of at least 4.5:1, forms usable from the
keyboard with a visible focus ring."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.console.browser import log_in, screenshot
from tests.console.conftest import Console, Tab, program_files

QUALITY = (Path(__file__).parent / "quality.js").read_text()
PROGRAM = "pages"


@pytest.fixture(scope="module")
def two_versions(console: Console, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Program `pages` with versions 1 (live) and 2 (a changed rate), published over the API."""
    tmp = tmp_path_factory.mktemp("pages")
    headers = {"Authorization": f"Bearer {console.admin}"}
    for version, edit in ((1, None), (2, ("electronics: 2.0", "electronics: 3.0"))):
        files = program_files(tmp / f"v{version}", PROGRAM, version, edit=edit)
        body = {"sources": {f.name: f.read_text() for f in files}, "message": f"v{version}",
                "activate": "now" if version == 1 else "no"}
        answer = httpx.post(f"{console.url}/v1/rulesets", json=body, headers=headers, timeout=30)
        assert answer.status_code == 201, answer.text
    yield PROGRAM


PAGES = {  # name: (path, the h1 it shows)
    "programs": ("/console/programs", "Programs"),
    "program": (f"/console/programs/{PROGRAM}", f"Program {PROGRAM}"),
    "version": (f"/console/programs/{PROGRAM}/versions/2", f"{PROGRAM} version 2"),
    "diff": (f"/console/programs/{PROGRAM}/diff?from=1&to=2",
             f"{PROGRAM}: version 1 → version 2"),
    "publish": ("/console/publish", "Publish a version"),
    "approve": (f"/console/programs/{PROGRAM}/versions/2/approve",
                f"Approve {PROGRAM} version 2"),
    "activate": (f"/console/programs/{PROGRAM}/versions/2/activate",
                 f"Activate {PROGRAM} version 2"),
    "activate-live": (f"/console/programs/{PROGRAM}/versions/1/activate",
                 f"Activate {PROGRAM} version 1"),
    "audit": ("/console/audit", "Audit log"),
    "not-found": ("/console/programs/no-such-program", "Not found"),
}


def _low_contrast(page: Page) -> list[dict[str, object]]:
    """Elements with text below 4.5:1 (after checking that buttons and text were measured)."""
    measured = page.evaluate(QUALITY)
    assert {"button", "h1"} <= {e["tag"] for e in measured}
    return [e for e in measured if e["ratio"] < 4.5]


@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_page(console: Console, two_versions: str, browser: Browser, tab: Tab,
                   tmp_path: Path, name: str) -> None:
    path, heading = PAGES[name]
    log_in(tab.page, console.url, console.admin)
    tab.page.goto(console.url + path)
    assert tab.page.inner_text("h1").startswith(heading)
    screenshot(browser, tab.page, f"console-{name}", tmp_path)
    assert _low_contrast(tab.page) == []
    assert tab.outside.urls == []


def test_login_page_and_errors(console: Console, browser: Browser, tab: Tab,
                               tmp_path: Path) -> None:
    log_in(tab.page, console.url, "lrk_wrong")
    assert tab.page.inner_text("h1") == "Log in"
    screenshot(browser, tab.page, "console-login", tmp_path)
    assert _low_contrast(tab.page) == []
    assert tab.outside.urls == []


def test_publish_errors_page(console: Console, browser: Browser, tab: Tab,
                             tmp_path: Path) -> None:
    from tests.console.browser import publish

    log_in(tab.page, console.url, console.admin)
    files = program_files(tmp_path / "bad", "bad-page", 1, edit=("home: 1.25", "home: [1]"))
    assert publish(tab.page, console.url, files) == 422
    screenshot(browser, tab.page, "console-publish-errors", tmp_path)
    assert _low_contrast(tab.page) == []


def _tab_until(page: Page, selector: str, most: int = 60) -> None:
    """Press Tab until the element at `selector` has the focus (fails after `most`)."""
    target = page.locator(selector)
    for _ in range(most):
        page.keyboard.press("Tab")
        if target.evaluate("el => el === document.activeElement"):
            return
    raise AssertionError(f"{selector} is not reachable with Tab")


def test_every_form_from_the_keyboard(console: Console, two_versions: str, tab: Tab,
                                      tmp_path: Path) -> None:
    page, url = tab.page, console.url
    # Log in: Tab to the key, type it, Enter.
    page.goto(f"{url}/console/login")
    page.locator("body").focus()
    _tab_until(page, "#key")
    page.keyboard.type(console.admin)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/programs")

    # Every link, field and button of every page is in the Tab order, with a focus ring.
    for path, _ in PAGES.values():
        page.goto(url + path)
        # (a group of radio buttons is one Tab stop, at its checked button; arrows move in it)
        count = page.evaluate("""() => {
            const all = document.querySelectorAll('header a, header button, main a, main button, '
              + 'main input:not([type=hidden]):not([type=radio]:not(:checked)), main select, '
              + 'main textarea');
            all.forEach((el, i) => el.dataset.kbd = i);
            return all.length; }""")
        reached: set[int] = set()
        for _ in range(count + 5):
            page.keyboard.press("Tab")
            index, style, width = page.evaluate("""() => { const el = document.activeElement;
                const s = getComputedStyle(el);
                return [el.dataset.kbd === undefined ? -1 : Number(el.dataset.kbd),
                        s.outlineStyle, parseFloat(s.outlineWidth)]; }""")
            if index >= 0:
                reached.add(index)
                assert style != "none" and width >= 2, (path, index)
        assert reached == set(range(count)), path

    # The diff form: Tab to its button, Enter.
    page.goto(f"{url}/console/programs/{PROGRAM}")
    _tab_until(page, "text=Show the differences")
    page.keyboard.press("Enter")
    page.wait_for_url("**/diff?from=1&to=2")

    # The audit filter: type in a field, Enter.
    page.goto(f"{url}/console/audit")
    _tab_until(page, "#action")
    page.keyboard.type("ruleset.activate")
    page.keyboard.press("Enter")
    page.wait_for_url("**action=ruleset.activate**")
    assert set(page.locator("#audit tbody td:nth-child(3)").all_inner_texts()) == \
        {"ruleset.activate"}

    # Publish: Space on the file field opens the chooser, Tab to the button, Enter.
    files = program_files(tmp_path / "kbd", "keyboard", 1)
    page.goto(f"{url}/console/publish")
    _tab_until(page, "#files")
    # Headless Chromium now and then drops the first key on a file field that just took the
    # focus; the chooser must still open from the keyboard, within three presses.
    for attempt in range(3):
        try:
            with page.expect_file_chooser(timeout=5000) as chooser:
                page.keyboard.press("Space")
            break
        except PlaywrightTimeout:
            if attempt == 2:
                raise
    chooser.value.set_files([str(f) for f in files])
    _tab_until(page, "text=Validate and publish")
    page.keyboard.press("Enter")
    page.wait_for_selector(".success")
    assert "Published keyboard version 1" in page.inner_text(".success")

    # Activate it through the dry run: Tab to the confirmation, Enter.
    page.goto(f"{url}/console/programs/keyboard/versions/1/activate")
    _tab_until(page, "#confirm")
    page.keyboard.press("Enter")
    page.wait_for_selector(".success")
    assert "The activation is recorded." in page.inner_text(".success")

    # Log out: Tab to the button, Enter.
    _tab_until(page, "text=Log out")
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/login?reason=logged_out")
