"""The member lookup and simulation pages in headless Chromium, against a real server
(two workers) whose member history is made through the real HTTP API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.console.browser import log_in, screenshot
from tests.console.conftest import Console, Tab
from tests.console.test_pages import _low_contrast, _tab_until

MEMBER = "CON-SIM-1"
RUN_DEADLINE_MS = 240_000


def _order(order_id: str, at: str, price: str) -> dict[str, Any]:
    return {"member": {"id": MEMBER},
            "order": {"id": order_id, "placed_at": at, "channel": "web", "currency": "USD",
                      "lines": [{"sku": "TV-55", "category": "electronics", "quantity": 1,
                                 "unit_price": price}]}}


@pytest.fixture(scope="module")
def history(console: Console) -> dict[str, Any]:
    """An enrolment, two orders (one refunded in part) and a redemption, through the API."""
    base = f"{console.url}/v1/programs/retail"
    auth = {"Authorization": f"Bearer {console.admin}"}
    with httpx.Client(headers=auth, timeout=30) as http:
        def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
            answer = http.post(base + path, json=body)
            assert answer.status_code in (200, 201), answer.text
            return answer.json()

        post("/members", {"event_id": "con-enrol-1", "member_id": MEMBER,
                          "enrolled_at": "2026-11-02T09:00:00-05:00",
                          "attributes": {"segments": ["vip"]}})
        post("/orders", _order("CON-O-1", "2026-11-05T14:30:00-05:00", "899.99"))
        post("/orders", _order("CON-O-2", "2026-11-08T11:00:00-05:00", "120.00"))
        post("/orders/CON-O-2/refunds", {"refund_id": "CON-R-1", "amount": "20.00",
                                         "refunded_at": "2026-11-09T10:00:00-05:00"})
        redeemed = post("/redemptions", {"member_id": MEMBER, "points": 500,
                                         "as_of": "2026-11-10T10:00:00-05:00",
                                         "idempotency_key": "con-redeem-1"})
        member = http.get(f"{base}/members/{MEMBER}").json()
    return {"member": member, "redemption": redeemed}


def test_member_lookup_shows_the_book_and_an_explain_trace(
        console: Console, tab: Tab, browser: Browser, history: dict[str, Any],
        tmp_path: Path) -> None:
    page, member = tab.page, history["member"]
    log_in(page, console.url, console.viewer)
    page.goto(f"{console.url}/console/members")
    screenshot(browser, page, "members-lookup", tmp_path)
    assert _low_contrast(page) == []
    page.select_option("#program", "retail")
    page.focus("#member_id")  # by keyboard: type the id, Enter submits
    page.keyboard.type(MEMBER)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/members/retail/{MEMBER}")
    assert page.inner_text("h1").startswith(f"Member {MEMBER}")
    assert page.inner_text("#balance").startswith(f"{member['balance']:,} points")
    assert page.inner_text("#tier").startswith(member["tier"])
    assert member["progress"]["qualifying_spend"] in page.inner_text("#progress")
    lots = page.locator("table[aria-labelledby=lots] tbody tr")
    expect(lots).to_have_count(len(member["lots"]))
    assert len(member["lots"]) > 0
    orders = page.inner_text("table[aria-labelledby=orders]")
    assert "CON-O-1" in orders and "CON-O-2" in orders
    redemptions = page.inner_text("table[aria-labelledby=redemptions]")
    assert history["redemption"]["id"] in redemptions and "500" in redemptions
    ledger = page.inner_text("table[aria-labelledby=ledger]")
    assert "earning.base" in ledger and "redeem" in ledger and "reverse" in ledger
    screenshot(browser, page, "member", tmp_path)
    assert _low_contrast(page) == []

    page.click("text=CON-O-1")
    page.wait_for_url("**/orders/CON-O-1")
    assert "gives the points the order was recorded with" in page.inner_text("#trace-source")
    trace = page.inner_text("#trace")
    assert "earning.base" in trace and "earning.categories.electronics" in trace
    screenshot(browser, page, "order-trace", tmp_path)
    assert _low_contrast(page) == []
    assert tab.outside.urls == []


def test_an_unknown_member_is_a_clear_404(console: Console, tab: Tab) -> None:
    log_in(tab.page, console.url, console.viewer)
    answer = tab.page.goto(f"{console.url}/console/members/retail/NOBODY-HERE")
    assert answer is not None and answer.status == 404
    assert "no member 'NOBODY-HERE'" in tab.page.inner_text("main")


def test_a_generated_simulation_runs_to_its_report(console: Console, tab: Tab,
                                                   browser: Browser, tmp_path: Path) -> None:
    page = tab.page
    log_in(page, console.url, console.viewer)
    page.goto(f"{console.url}/console/simulations")
    screenshot(browser, page, "simulations", tmp_path)
    assert _low_contrast(page) == []
    # From the keyboard: Tab to each field, type, Enter submits.
    page.select_option("#target", "retail:1")
    page.locator("body").focus()
    for field, value in (("#members", "40"), ("#events", "4000"), ("#seed", "3")):
        _tab_until(page, field)
        page.keyboard.press("Control+A")
        page.keyboard.type(value)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/simulations/*")
    assert "retail version 1 over a generated history (40 members, 4,000 events, seed 3)" \
        in page.inner_text("main")
    # The page reloads itself (Refresh header) until the run is done.
    page.wait_for_selector("#report-link", timeout=RUN_DEADLINE_MS)
    assert "done" in page.inner_text("#run-status")
    totals = page.inner_text("table.totals")
    assert "points issued" in totals and "books balance" in totals
    report = page.frame_locator("iframe.report")
    expect(report.locator("h2", has_text="Summary")).to_be_visible()
    expect(report.locator("svg").first).to_be_visible()
    screenshot(browser, page, "simulation-run", tmp_path)
    assert _low_contrast(page) == []
    assert tab.outside.urls == []


def test_a_simulation_of_the_recorded_history_agrees_with_the_store(
        console: Console, tab: Tab, history: dict[str, Any]) -> None:
    page = tab.page
    log_in(page, console.url, console.admin)
    page.goto(f"{console.url}/console/simulations")
    page.select_option("#target", "retail:1")
    page.check("#source-recorded")
    page.click("text=Start the simulation")
    page.wait_for_selector("#report-link", timeout=RUN_DEADLINE_MS)
    rows = {row.locator("th").inner_text(): row.locator("td").inner_text()
            for row in page.locator("table.totals tbody tr").all()}
    assert rows["sum of member balances"] == str(history["member"]["balance"])
    assert rows["books balance"] == "True"


def test_bad_simulation_arguments_are_named(console: Console, tab: Tab) -> None:
    page = tab.page
    log_in(page, console.url, console.viewer)
    page.goto(f"{console.url}/console/simulations")
    page.check("#source-generated")
    page.evaluate("document.querySelector('#members').removeAttribute('min')")
    page.fill("#members", "0")
    page.click("text=Start the simulation")
    assert page.inner_text("#simulation-error") == "members must be between 1 and 200,000"
