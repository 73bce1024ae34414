"""Preferences over HTTP: defaults for a member who set none, changes that keep the fields
left out, bad input refused with the field, the scopes; and the unsubscribe link: no key,
idempotent, a tampered token refused with a problem."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.notify.unsubscribe import Unsubscriber
from store.settings import Settings
from tests.store.helpers import order

BASE = "/v1/programs/retail"
PREFS = f"{BASE}/members/CUST-1/preferences"


@pytest.fixture
def member(client, checkout_key):
    r = client.post(f"{BASE}/orders", json=order("O-1"), headers=checkout_key)
    assert r.status_code == 201, r.text
    return "CUST-1"


def test_a_member_who_set_nothing_has_the_defaults(client, checkout_key, member):
    r = client.get(PREFS, headers=checkout_key)
    assert r.status_code == 200, r.text
    assert r.json() == {"program": "retail", "member_id": "CUST-1",
                        "channels": ["email", "webhook"], "locale": None, "email": None,
                        "marketing_opt_out": False, "updated_at": None}


def test_put_sets_the_fields_given_and_keeps_the_others(client, checkout_key, member):
    r = client.put(PREFS, headers=checkout_key, json={
        "channels": ["webhook", "email", "email"], "locale": "es", "email": "ana@example.com"})
    assert r.status_code == 200, r.text
    assert r.json()["channels"] == ["email", "webhook"]
    r = client.put(PREFS, headers=checkout_key, json={"marketing_opt_out": True})
    assert r.status_code == 200, r.text
    got = client.get(PREFS, headers=checkout_key).json()
    assert (got["channels"], got["locale"], got["email"], got["marketing_opt_out"]) == (
        ["email", "webhook"], "es", "ana@example.com", True)
    assert got["updated_at"] is not None
    r = client.put(PREFS, headers=checkout_key, json={"channels": [], "locale": None})
    got = client.get(PREFS, headers=checkout_key).json()
    assert (got["channels"], got["locale"], got["email"]) == ([], None, "ana@example.com")


@pytest.mark.parametrize(("body", "pointer"), [
    ({"channels": ["sms"]}, "/channels/0"),
    ({"channels": None}, "/channels"),
    ({"locale": "english please"}, "/locale"),
    ({"email": "not an address"}, "/email"),
    ({"email": "ana@example.com,eve@evil.example"}, "/email"),
    ({"email": "ana@example.com,eve"}, "/email"),
    ({"email": "ana@example.com;eve"}, "/email"),
    ({"email": "eve@evil.example>,<ana@example.com"}, "/email"),
    ({"email": "\"eve\"@example.com"}, "/email"),
    ({"email": "ana@example.com\r\nBcc: eve@evil.example"}, "/email"),
    ({"marketing_opt_out": "maybe"}, "/marketing_opt_out"),
    ({"colour": "blue"}, "/colour"),
])
def test_bad_preferences_are_refused_with_the_field(client, checkout_key, member, body,
                                                     pointer):
    r = client.put(PREFS, headers=checkout_key, json=body)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["pointer"] == pointer


def test_unknown_members_and_missing_scopes_are_refused(client, checkout_key, evaluate_key,
                                                        member):
    r = client.get(f"{BASE}/members/NOBODY/preferences", headers=checkout_key)
    assert (r.status_code, r.json()["code"]) == (404, "unknown_member")
    r = client.put(PREFS, headers=evaluate_key, json={"locale": "es"})
    assert (r.status_code, r.json()["code"]) == (403, "forbidden_scope")
    assert client.get(PREFS).status_code == 401


def _token(app, program="retail", member_id="CUST-1"):
    services = app.state.services
    return Unsubscriber.of(services.settings, services.db).token(program, member_id)


def test_the_unsubscribe_link_needs_no_key_and_is_idempotent(app, client, checkout_key,
                                                             member):
    token = _token(app)
    page = client.get(f"/v1/unsubscribe/{token}")  # a link scanner's visit changes nothing
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post">' in page.text and "from retail?" in page.text
    assert client.get(PREFS, headers=checkout_key).json()["marketing_opt_out"] is False
    done = client.post(f"/v1/unsubscribe/{token}", headers={"Accept": "text/html"})
    assert done.status_code == 200 and done.headers["content-type"].startswith("text/html")
    assert "no more marketing messages from retail" in done.text
    assert client.get(PREFS, headers=checkout_key).json()["marketing_opt_out"] is True
    again = client.post(f"/v1/unsubscribe/{token}",
                        content="List-Unsubscribe=One-Click",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert again.status_code == 200, again.text
    assert again.json() == {"program": "retail", "member_id": "CUST-1",
                            "marketing_opt_out": True, "changed": False}


def test_one_click_unsubscribe_sets_the_opt_out_and_keeps_the_rest(app, client,
                                                                   checkout_key, member):
    client.put(PREFS, headers=checkout_key, json={"locale": "es", "channels": ["email"]})
    r = client.post(f"/v1/unsubscribe/{_token(app)}")
    assert r.status_code == 200, r.text
    assert r.json()["changed"] is True
    got = client.get(PREFS, headers=checkout_key).json()
    assert (got["marketing_opt_out"], got["locale"], got["channels"]) == (True, "es", ["email"])


def test_an_old_link_opts_out_again_after_the_member_accepted_marketing_again(
        app, client, checkout_key, member):
    token = _token(app)
    assert client.post(f"/v1/unsubscribe/{token}").json()["changed"] is True
    client.put(PREFS, headers=checkout_key, json={"marketing_opt_out": False})
    assert client.get(PREFS, headers=checkout_key).json()["marketing_opt_out"] is False
    assert client.post(f"/v1/unsubscribe/{token}").json()["changed"] is True
    assert client.get(PREFS, headers=checkout_key).json()["marketing_opt_out"] is True
    # a token names one program and member: another member of the program is untouched
    other = client.get(f"{BASE}/members/CUST-2/preferences", headers=checkout_key)
    assert other.status_code == 404 or other.json()["marketing_opt_out"] is False


def test_a_tampered_or_foreign_token_is_a_problem(app, client, checkout_key, member):
    token = _token(app)
    forged = Unsubscriber("another secret").token("retail", "CUST-1")
    other = Unsubscriber("another secret").token("retail", "CUST-2")
    swapped = other.split(".")[0] + "." + token.split(".")[1]  # another member, our signature
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "x",
                swapped):
        for method in ("GET", "POST"):
            r = client.request(method, f"/v1/unsubscribe/{bad}")
            assert r.status_code == 400, (bad, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert r.json()["code"] == "invalid_token"
            assert r.json()["errors"][0]["parameter"] == "token"
    assert client.get(PREFS, headers=checkout_key).json()["marketing_opt_out"] is False


def test_a_token_of_a_member_not_enrolled_is_a_404(app, client):
    r = client.get(f"/v1/unsubscribe/{_token(app, member_id='GHOST')}")
    assert (r.status_code, r.json()["code"]) == (404, "unknown_member")


def test_a_configured_secret_signs_the_tokens(db):
    settings = Settings(database_url=db.url, unsubscribe_secret="s3cret")
    signer = Unsubscriber.of(settings, db)
    assert signer.read(Unsubscriber("s3cret").token("retail", "A")) == ("retail", "A")
    assert signer.url("https://loyalty.example/", "retail", "A").startswith(
        "https://loyalty.example/v1/unsubscribe/")


def test_a_lone_surrogate_in_the_email_is_refused_with_the_field(client, checkout_key, member):
    r = client.put(PREFS, content='{"email": "a\\udfff@example.com"}',
                   headers={**checkout_key, "content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.json()["pointer"] == "/email"
    assert any("surrogate" in e["message"] for e in r.json()["errors"])


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(token=st.text(min_size=1, max_size=300).filter(
    lambda t: "/" not in t and t not in (".", "..")))
def test_any_token_but_a_signed_one_is_an_invalid_token_problem(app, client, checkout_key,
                                                               member, token):
    r = client.post(f"/v1/unsubscribe/{quote(token, safe='')}")
    assert r.status_code in (400, 404, 422), r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert client.get(PREFS, headers=checkout_key).json()["marketing_opt_out"] is False
