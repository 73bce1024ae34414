"""The portal without a browser: its cookie, CSRF tokens, quantities checked, the console's
session not opening the portal (nor the other way round), unknown pages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from store.db.database import Database
from store.registry import keys
from store.settings import Settings
from store.tables.b2b_orders import B2BOrderRow


@pytest.fixture
def client(db: Database, companies: dict[str, str]):
    settings = Settings(database_url=db.url, jobs_enabled=False, api_key_cache_seconds=0)
    with TestClient(create_app(settings, db), raise_server_exceptions=False) as made:
        yield made


def csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found, path
    return found.group(1)


def log_in(client: TestClient, key: str):  # type: ignore[no-untyped-def]
    return client.post("/portal/login", data={"key": key, "csrf": csrf(client, "/portal/login")},
                        follow_redirects=False)


def test_the_cookie_is_the_portals_own(client: TestClient, companies: dict[str, str]) -> None:
    answer = log_in(client, companies["requester"])
    assert answer.status_code == 303 and answer.headers["location"] == "/portal/company"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("loyalty_portal=")
    assert "Path=/portal" in cookie and "HttpOnly" in cookie
    assert companies["requester"] not in cookie
    page = client.get("/portal/company")
    assert page.status_code == 200 and "ACME Inc." in page.text
    assert "script" not in page.text.lower()
    assert page.headers["content-security-policy"].startswith("default-src 'self'")


def test_a_console_session_does_not_open_the_portal(client: TestClient, db: Database) -> None:
    with db.writing() as session:
        admin = keys.create(session, ["admin"], name="ops")[0]
    token = csrf(client, "/console/login")
    assert client.post("/console/login", data={"key": admin, "csrf": token},
                       follow_redirects=False).status_code == 303
    answer = client.get("/portal/company", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/portal/login")
    # and an admin key is not a manager's key
    assert log_in(client, admin).status_code == 401


def test_a_form_without_its_token_changes_nothing(client: TestClient,
                                                   companies: dict[str, str]) -> None:
    log_in(client, companies["requester"])
    answer = client.post("/portal/cart", data={"qty:VIRT-GIFT-CARD-100": "2"})
    assert answer.status_code == 403 and "security token" in answer.text
    assert "cart-empty" in client.get("/portal/cart").text
    assert client.post("/portal/orders", data={"csrf": "forged"}).status_code == 403


@pytest.mark.parametrize("quantity", ["-1", "1.5", "1000", "x", "1e3", "²", "١٢"])
def test_a_bad_quantity_is_named(client: TestClient, companies: dict[str, str],
                                 quantity: str) -> None:
    log_in(client, companies["requester"])
    token = csrf(client, "/portal/catalog")
    answer = client.post("/portal/cart", data={"qty:VIRT-GIFT-CARD-100": quantity, "csrf": token})
    assert answer.status_code == 422
    assert "qty:VIRT-GIFT-CARD-100" in answer.text and "whole number" in answer.text


def test_an_empty_cart_is_not_an_order(client: TestClient, companies: dict[str, str]) -> None:
    log_in(client, companies["requester"])
    answer = client.post("/portal/orders", data={"csrf": csrf(client, "/portal/cart")})
    assert answer.status_code == 409 and "cart is empty" in answer.text


def test_a_reward_outside_the_tier_never_reaches_an_order(
        client: TestClient, companies: dict[str, str]) -> None:
    log_in(client, companies["globex"])  # a standard company: desks are enterprise only
    token = csrf(client, "/portal/catalog")
    client.post("/portal/cart", data={"qty:PHYS-STANDING-DESKS": "1", "csrf": token})
    assert "cart-empty" in client.get("/portal/cart").text


def test_unknown_pages_and_orders_are_html_404s(client: TestClient,
                                                companies: dict[str, str]) -> None:
    log_in(client, companies["viewer"])
    for path in ("/portal/nowhere", "/portal/orders/B2B-2026-999999"):
        answer = client.get(path)
        assert answer.status_code == 404 and answer.headers["content-type"].startswith(
            "text/html"), path


def test_placing_the_same_cart_twice_places_one_order(
        client: TestClient, companies: dict[str, str], points) -> None:  # type: ignore[no-untyped-def]
    """A double click (or a browser resending the form with the cart's old cookie) answers
    the order the cart became; a new cart with the same rewards is a new order."""
    log_in(client, companies["requester"])
    token = csrf(client, "/portal/catalog")
    client.post("/portal/cart", data={"qty:VIRT-GIFT-CARD-100": "1", "csrf": token})
    jar = next(c for c in client.cookies.jar if c.name == "loyalty_portal_cart")
    cart = jar.value
    first = client.post("/portal/orders", data={"csrf": token}, follow_redirects=False)
    assert first.status_code == 303 and "/portal/orders/B2B-" in first.headers["location"]
    client.cookies.set("loyalty_portal_cart", cart, domain=jar.domain, path="/portal")
    again = client.post("/portal/orders", data={"csrf": token}, follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].split("?")[0] == first.headers["location"].split("?")[0]
    assert [r.path for r in points.requests if r.path == "/debit"] == ["/debit"]
    client.post("/portal/cart", data={"qty:VIRT-GIFT-CARD-100": "1", "csrf": token})
    other = client.post("/portal/orders", data={"csrf": token}, follow_redirects=False)
    assert other.headers["location"].split("?")[0] != first.headers["location"].split("?")[0]
    assert len([r for r in points.requests if r.path == "/debit"]) == 2


def test_a_cart_never_grows_past_its_fifty_lines(client: TestClient,
                                                 companies: dict[str, str]) -> None:
    log_in(client, companies["requester"])
    token = csrf(client, "/portal/catalog")
    first = {f"qty:R-{n}": "1" for n in range(30)}
    assert client.post("/portal/cart", data={**first, "csrf": token},
                       follow_redirects=False).status_code == 303
    more = {f"qty:S-{n}": "1" for n in range(30)}
    answer = client.post("/portal/cart", data={**more, "csrf": token}, follow_redirects=False)
    assert answer.status_code == 422 and "at most 50" in answer.text


def test_an_order_placed_on_the_portal_sends_its_virtual_items_at_once(
        client: TestClient, companies: dict[str, str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.loopback import LoopbackServer

    with LoopbackServer(lambda request: (202, {})) as api:
        monkeypatch.setenv("LOYALTY_FULFILMENT_WEBHOOK_URL", api.url + "/fulfil")
        log_in(client, companies["requester"])
        token = csrf(client, "/portal/catalog")
        client.post("/portal/cart", data={"qty:VIRT-GIFT-CARD-100": "1", "csrf": token})
        placed = client.post("/portal/orders", data={"csrf": token}, follow_redirects=False)
        number = placed.headers["location"].split("?")[0].rsplit("/", 1)[1]
    assert [r.body["order_number"] for r in api.requests] == [number]


def test_a_cart_whose_order_failed_can_be_placed_again(
        client: TestClient, companies: dict[str, str], points, db: Database  # type: ignore[no-untyped-def]
        ) -> None:
    """The failed order keeps the cart's key; the kept cart gets a new one, so placing it
    again (once the points API debits again) is a new order, not that failure replayed."""
    from tests.store.b2b_order_support import refuse_debits

    log_in(client, companies["requester"])
    token = csrf(client, "/portal/catalog")
    client.post("/portal/cart", data={"qty:VIRT-GIFT-CARD-100": "1", "csrf": token})
    handle = points.handle
    refuse_debits(points)
    failed = client.post("/portal/orders", data={"csrf": token}, follow_redirects=False)
    assert failed.status_code == 409 and "refused to debit" in failed.text
    points.handle = handle
    again = client.post("/portal/orders", data={"csrf": token}, follow_redirects=False)
    assert again.status_code == 303, again.text
    assert "Your order is placed" in client.get(again.headers["location"]).text
    assert "cart-empty" in client.get("/portal/cart").text
    with db.reading() as session:
        statuses = session.scalars(select(B2BOrderRow.status).order_by(B2BOrderRow.id)).all()
    assert statuses == ["failed", "placed"]
