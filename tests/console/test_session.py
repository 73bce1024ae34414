"""The console's session cookie and signing secret, without a browser: cookie attributes,
expiry, the secret shared through the database, a configured secret."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response

from api.console.session import Session, Sessions
from store.db.database import Database
from store.registry import keys
from store.tables.core import ConsoleSecretRow
from tests.console.conftest import console_app, form_log_in


@pytest.fixture
def viewer_key(db: Database) -> str:
    with db.writing() as session:
        return keys.create(session, ["viewer"], name="test")[0]


def test_cookie_attributes_over_https(db: Database, viewer_key: str) -> None:
    with TestClient(console_app(db), base_url="https://console.example") as client:
        answer = form_log_in(client, viewer_key)
    assert answer.status_code == 303
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("loyalty_console=")
    for attribute in ("HttpOnly", "Max-Age=28800", "Path=/console", "SameSite=lax", "Secure"):
        assert attribute in cookie, attribute
    assert viewer_key not in cookie  # the signed payload holds the key's digest, never the key


def test_no_secure_flag_over_plain_http(db: Database, viewer_key: str) -> None:
    with TestClient(console_app(db)) as client:
        cookie = form_log_in(client, viewer_key).headers["set-cookie"]
    assert "Secure" not in cookie and "HttpOnly" in cookie


def test_workers_share_the_stored_secret(db: Database, viewer_key: str) -> None:
    """Two apps on one database (two workers) accept each other's sessions."""
    with TestClient(console_app(db)) as first, TestClient(console_app(db)) as second:
        assert form_log_in(first, viewer_key).status_code == 303
        second.cookies.update(first.cookies)
        assert second.get("/console/programs", follow_redirects=False).status_code == 200
    with db.reading() as session:
        assert len(session.scalars(select(ConsoleSecretRow)).all()) == 1


def test_a_configured_secret_is_used_and_nothing_stored(db: Database, viewer_key: str) -> None:
    with TestClient(console_app(db, console_secret="s" * 40)) as configured, \
            TestClient(console_app(db)) as stored:
        assert form_log_in(configured, viewer_key).status_code == 303
        stored.cookies.update(configured.cookies)  # signed with another secret: refused
        answer = stored.get("/console/programs", follow_redirects=False)
        assert answer.status_code == 303 and "/console/login" in answer.headers["location"]
        assert configured.get("/console/programs", follow_redirects=False).status_code == 200


def test_sessions_expire() -> None:
    signer = Sessions("secret", max_age_seconds=60)
    response = Response()
    scope = {"type": "http", "scheme": "http", "server": ("test", 80), "path": "/console",
             "headers": [], "query_string": b""}
    signer.write(Request(scope), response, Session.logged_in("digest"))
    value = response.headers["set-cookie"].split(";")[0]
    with_cookie = Request({**scope, "headers": [(b"cookie", value.encode())]})
    found = signer.read(with_cookie)
    assert found is not None and found.key_digest == "digest"
    assert Sessions("secret", max_age_seconds=-1).read(with_cookie) is None  # past its age
    assert Sessions("other", max_age_seconds=60).read(with_cookie) is None  # another secret


def test_an_unknown_console_page_is_an_html_404(db: Database) -> None:
    with TestClient(console_app(db)) as client:
        answer = client.get("/console/no/such/page")
        assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
        assert "The console has no page /console/no/such/page." in answer.text
        assert client.get("/console/static/console.css").status_code == 200  # still served
