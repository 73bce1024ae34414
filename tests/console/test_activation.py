"""Approve, activate and roll back through the dry-run confirmation, in Chromium; viewers
are refused."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from tests.console.browser import log_in, publish
from tests.console.conftest import Console, Tab, program_files

PROGRAM = "flow"


def _live(page: Page, url: str) -> str:
    page.goto(f"{url}/console/programs/{PROGRAM}")
    return page.inner_text("main > p >> nth=0")


def _confirm(page: Page, url: str, version: int) -> None:
    page.goto(f"{url}/console/programs/{PROGRAM}/versions/{version}/activate")
    assert "Dry run" in page.inner_text("main")
    page.click("#confirm")
    assert "The activation is recorded." in page.inner_text(".success")


def test_approve_activate_and_roll_back(console: Console, tab: Tab, tmp_path: Path) -> None:
    page, url = tab.page, console.url
    log_in(page, url, console.admin)
    assert publish(page, url, program_files(tmp_path / "v1", PROGRAM, 1)) == 200
    _confirm(page, url, 1)
    assert "version 1" in _live(page, url)

    # Version 2 doubles the base rate and asks for one approval by another key.
    v2 = program_files(tmp_path / "v2", PROGRAM, 2, approvals=1,
                       edit=('base_rate: "1"', 'base_rate: "2"'))
    assert publish(page, url, v2, "double points") == 200
    page.goto(f"{url}/console/programs/{PROGRAM}/versions/2/activate")
    refusal = page.inner_text("#refusal")
    assert "Would be refused" in refusal and "needs 1 approval(s)" in refusal
    assert page.locator("#confirm").count() == 0  # nothing to confirm while refused
    diff = page.inner_text(".diff")  # the dry run shows what would change
    assert diff.startswith("1 rule(s) added, 0 removed, 1 changed.")
    assert "earning.base\tchanged\tvalue\t1\t2" in diff
    assert "approvals\tadded\trequired: 1" in diff

    # The publisher may not approve their own version …
    page.goto(f"{url}/console/programs/{PROGRAM}/versions/2/approve")
    page.click("#confirm")
    assert "cannot approve it" in page.inner_text("#refusal")

    # … another admin may.
    approver = page.context.browser.new_context()  # type: ignore[union-attr]
    other = approver.new_page()
    log_in(other, url, console.approver)
    other.goto(f"{url}/console/programs/{PROGRAM}/versions/2/approve")
    assert other.inner_text("dt:text-is('With yours') + dd") == "1 of 1 — enough to activate"
    other.fill("#message", "checked the rates")
    other.click("#confirm")
    assert "Your approval is recorded." in other.inner_text(".success")
    assert "1 of 1 required" in other.inner_text("dl.facts")

    page.goto(f"{url}/console/programs/{PROGRAM}/versions/2/activate")
    assert page.locator("#refusal").count() == 0
    assert page.inner_text("dt:text-is('Live now') + dd") == "version 1"
    _confirm(page, url, 2)
    assert "version 2" in _live(page, url)

    # Rolling back to version 1: the live version 2 asks for an approval, so version 1 needs one.
    other.goto(f"{url}/console/programs/{PROGRAM}/versions/1/approve")
    other.click("#confirm")
    page.goto(f"{url}/console/programs/{PROGRAM}/versions/1/activate")
    assert page.inner_text("h1") == f"Roll back {PROGRAM} to version 1"
    assert page.inner_text("#confirm") == "Roll back to version 1"
    page.click("#confirm")
    assert "version 1" in _live(page, url)
    timeline = page.inner_text("#timeline + table")
    assert "rollback" in timeline

    page.goto(f"{url}/console/audit?program={PROGRAM}")
    actions = page.locator("#audit tbody tr td:nth-child(3)").all_inner_texts()
    assert actions[:3] == ["ruleset.rollback", "ruleset.approve", "ruleset.activate"]
    approver.close()


def test_a_viewer_is_refused_admin_actions(console: Console, tab: Tab, tmp_path: Path) -> None:
    page, url = tab.page, console.url
    log_in(page, url, console.viewer)
    page.goto(f"{url}/console/programs/retail")
    assert page.locator("text=Activate…").count() == 0  # no admin buttons for a viewer
    for path in ("/console/programs/retail/versions/1/activate",
                 "/console/programs/retail/versions/1/approve", "/console/audit"):
        answer = page.goto(url + path)
        assert answer is not None and answer.status == 403, path
        assert "needs a key with the admin scope" in page.inner_text("main")
    # A POST made by hand (with a valid CSRF token) is refused as well.
    token = page.evaluate("document.querySelector('input[name=csrf]').value")
    status = page.evaluate("""async (token) => {
        const r = await fetch('/console/programs/retail/versions/1/activate', {method: 'POST',
            headers: {'Content-Type': 'application/x-www-form-urlencoded'},
            body: 'at=now&csrf=' + token});
        return r.status; }""", token)
    assert status == 403
