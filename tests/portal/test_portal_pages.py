"""The B2B portal's pages in headless Chromium against a real server (two workers) and a
points API on loopback: an account manager logs in, sees the balance and the catalog of
the company's tier, builds a cart of several rewards, places it, follows it, reads the
history; an approver works the queue; other companies' orders stay out of reach."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser, Page, expect

from store.db.database import open_database
from tests.api.server import Server, running_server
from tests.console.browser import Outside, launched, new_page
from tests.loopback import LoopbackServer
from tests.points_api import PointsApi
from tests.store.b2b_helpers import make_company, make_manager
from tests.store.db_support import scratch_database

ROLES = ("viewer", "requester", "approver")


@dataclass
class Portal:
    server: Server
    points: PointsApi
    keys: dict[str, str]  # ACME's managers by role, and "globex": GLOBEX's requester


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    tmp = tmp_path_factory.mktemp("portal")
    api = PointsApi({"ACC-ACME": 400_000, "ACC-GLOBEX": 20_000})
    with LoopbackServer(api) as points, scratch_database(tmp) as url:
        settings = {"LOYALTY_POINTS_API_URLS": f'{{"loyalty-points-api": "{points.url}"}}',
                    "LOYALTY_API_KEY_CACHE_SECONDS": "0"}
        with running_server(url, tmp, workers=2, settings=settings) as server:
            db = open_database(url)
            try:
                make_company(db, "ACME", "ACC-ACME", tier="enterprise", threshold=100_000)
                make_company(db, "GLOBEX", "ACC-GLOBEX", tier="standard")
                keys = {role: make_manager(db, "ACME", f"acme-{role}", role) for role in ROLES}
                keys["globex"] = make_manager(db, "GLOBEX", "globex-buyer", "requester")
            finally:
                db.dispose()
            yield Portal(server, api, keys)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched() as (_, found):
        yield found


@pytest.fixture
def pages(browser: Browser) -> Iterator[list[tuple[Page, Outside]]]:
    """Fresh browser contexts (one per manager a test needs), closed afterwards."""
    made: list[tuple[Page, Outside]] = []
    yield made
    for tab, outside in made:
        tab.context.close()
        assert outside.urls == [], f"the portal tried to load from elsewhere: {outside.urls}"


def logged_in(browser: Browser, pages: list[tuple[Page, Outside]], portal: Portal,
              who: str) -> Page:
    tab, outside = new_page(browser)
    pages.append((tab, outside))
    tab.goto(f"{portal.server.url}/portal/company")
    expect(tab).to_have_url(re.compile(r"/portal/login\?next="))
    tab.fill("#key", portal.keys[who])
    tab.click("button[type=submit]")
    expect(tab).to_have_url(re.compile(r"/portal/company$"))
    return tab


def order_number(tab: Page) -> str:
    match = re.search(r"/portal/orders/(B2B-\d{4}-\d{6})", tab.url)
    assert match, tab.url
    return match.group(1)


def add(tab: Page, quantities: dict[str, int]) -> None:
    tab.click("text=Catalog")
    for reward, quantity in quantities.items():
        tab.fill(f"#qty-{reward}", str(quantity))
    tab.click("#add-to-cart")
    expect(tab).to_have_url(re.compile(r"/portal/cart$"))


def test_a_requester_builds_a_cart_places_it_and_follows_it(
        browser: Browser, pages: list[tuple[Page, Outside]], portal: Portal) -> None:
    tab = logged_in(browser, pages, portal, "requester")
    expect(tab.locator("#company-tier")).to_have_text("enterprise")
    balance_before = portal.points.balances["ACC-ACME"]
    expect(tab.locator("#balance")).to_have_text(f"{balance_before:,}")

    add(tab, {"VIRT-GIFT-CARD-100": 2, "PHYS-STANDING-DESKS": 0})
    add(tab, {"VIRT-GIFT-CARD-100": 1})  # added to what the cart holds
    expect(tab.locator("#qty-VIRT-GIFT-CARD-100")).to_have_value("3")
    expect(tab.locator("#cart-total")).to_have_text("30,000")
    tab.click("#place-order")
    number = order_number(tab)
    expect(tab.locator("#order-total")).to_have_text("30,000 points")
    expect(tab.locator("#order-status")).not_to_contain_text("pending_approval")
    assert portal.points.balances["ACC-ACME"] == balance_before - 30_000
    tab.click("text=Cart")
    expect(tab.locator("#cart-empty")).to_be_visible()  # placed: the cart is empty again
    tab.click("text=Orders")
    expect(tab.locator("#orders")).to_contain_text(number)


def test_an_order_over_the_threshold_waits_for_another_manager_to_approve_it(
        browser: Browser, pages: list[tuple[Page, Outside]], portal: Portal) -> None:
    requester = logged_in(browser, pages, portal, "requester")
    before = portal.points.balances["ACC-ACME"]
    add(requester, {"PHYS-STANDING-DESKS": 1})  # 350,000 > the 100,000 threshold
    requester.click("#place-order")
    number = order_number(requester)
    expect(requester.locator("#order-status")).to_contain_text("pending_approval")
    expect(requester.locator("#approve")).to_have_count(0)  # not their own
    assert portal.points.balances["ACC-ACME"] == before  # nothing debited yet

    approver = logged_in(browser, pages, portal, "approver")
    approver.click("text=Approvals")
    approver.click(f"text={number}")
    approver.click("#approve")
    expect(approver.locator("#notice")).to_have_text("Approved.")
    expect(approver.locator("#approved-by")).to_have_text("manager:acme-approver")
    expect(approver.locator("#order-status")).not_to_contain_text("pending_approval")
    assert portal.points.balances["ACC-ACME"] == before - 350_000
    approver.click("text=Approvals")
    expect(approver.locator("main")).not_to_contain_text(number)


def test_a_viewer_reads_but_cannot_order(
        browser: Browser, pages: list[tuple[Page, Outside]], portal: Portal) -> None:
    tab = logged_in(browser, pages, portal, "viewer")
    expect(tab.get_by_role("link", name="Cart")).to_have_count(0)
    tab.click("text=Catalog")
    expect(tab.locator("#add-to-cart")).to_have_count(0)
    tab.goto(f"{portal.server.url}/portal/cart")
    expect(tab.locator("#error-message")).to_contain_text("requester role")


def test_another_companys_catalog_and_orders_are_out_of_reach(
        browser: Browser, pages: list[tuple[Page, Outside]], portal: Portal) -> None:
    acme = logged_in(browser, pages, portal, "requester")
    add(acme, {"VIRT-GIFT-CARD-100": 1})
    acme.click("#place-order")
    number = order_number(acme)

    globex = logged_in(browser, pages, portal, "globex")
    expect(globex.locator("#company-tier")).to_have_text("standard")
    globex.click("text=Catalog")
    expect(globex.locator("body")).not_to_contain_text("PHYS-STANDING-DESKS")  # enterprise only
    answer = globex.goto(f"{portal.server.url}/portal/orders/{number}")
    assert answer is not None and answer.status == 404
    globex.click("text=Orders")
    expect(globex.locator("body")).not_to_contain_text(number)


def test_logging_out_ends_the_session(
        browser: Browser, pages: list[tuple[Page, Outside]], portal: Portal) -> None:
    tab = logged_in(browser, pages, portal, "viewer")
    tab.click("text=Log out")
    expect(tab).to_have_url(re.compile(r"/portal/login\?reason=logged_out"))
    tab.goto(f"{portal.server.url}/portal/orders")
    expect(tab).to_have_url(re.compile(r"/portal/login"))


def test_a_wrong_key_is_refused_on_the_form(
        browser: Browser, pages: list[tuple[Page, Outside]], portal: Portal) -> None:
    tab, outside = new_page(browser)
    pages.append((tab, outside))
    tab.goto(f"{portal.server.url}/portal/login")
    tab.fill("#key", "lmk_not-a-key")
    tab.click("button[type=submit]")
    expect(tab.locator("#login-error")).to_contain_text("unknown or revoked")


