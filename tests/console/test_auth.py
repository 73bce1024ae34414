"""Logging in and out of the console, the session cookie, CSRF, and roles, in Chromium."""

from __future__ import annotations

import subprocess

import httpx

from tests.api.server import LOYALTY
from tests.console.browser import log_in
from tests.console.conftest import Console, Tab


def test_login_with_an_admin_key_then_logout(console: Console, tab: Tab) -> None:
    page = tab.page
    page.goto(f"{console.url}/console/programs/retail")
    assert "/console/login" in page.url  # not logged in: to the login form, then back
    page.fill("#key", console.admin)
    page.click("button[type=submit]")
    assert page.url.endswith("/console/programs/retail")
    assert page.inner_text("h1") == "Program retail"
    assert "admin" in page.inner_text("header .who")

    cookie = next(c for c in page.context.cookies() if c["name"] == "loyalty_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/console"
    assert cookie["expires"] > 0  # expires (a persistent cookie with a lifetime)
    assert console.admin not in cookie["value"] and console.admin[4:] not in cookie["value"]

    page.click("text=Log out")
    assert "/console/login" in page.url
    assert "You are logged out." in page.inner_text("main")
    page.goto(f"{console.url}/console/programs")
    assert "/console/login" in page.url


def test_a_viewer_logs_in_and_reads(console: Console, tab: Tab) -> None:
    log_in(tab.page, console.url, console.viewer)
    assert tab.page.url.endswith("/console/programs")
    assert "viewer" in tab.page.inner_text("header .who")
    assert "retail" in tab.page.inner_text("main table")
    nav = tab.page.inner_text("header nav")
    assert "Simulations" in nav and "Members" in nav and "Publish" not in nav


def test_a_bad_key_is_refused(console: Console, tab: Tab) -> None:
    log_in(tab.page, console.url, "lrk_not-a-key")
    assert "/console/login" in tab.page.url
    assert tab.page.inner_text("#login-error") == "That key is unknown or revoked."
    tab.page.goto(f"{console.url}/console/programs")
    assert "/console/login" in tab.page.url


def test_a_checkout_key_is_refused(console: Console, tab: Tab) -> None:
    log_in(tab.page, console.url, console.checkout)
    error = tab.page.inner_text("#login-error")
    assert "has the scopes commit, evaluate" in error
    assert "needs a key with the viewer or admin scope" in error
    tab.page.goto(f"{console.url}/console/programs")
    assert "/console/login" in tab.page.url


def test_a_forged_post_is_refused(console: Console, tab: Tab) -> None:
    """A form posted without this session's CSRF token (as another site would post it, with
    the cookie) changes nothing."""
    page = tab.page
    log_in(page, console.url, console.admin)
    page.goto(f"{console.url}/console/programs")
    status = page.evaluate("""async () => {
        const r = await fetch('/console/logout', {method: 'POST',
            headers: {'Content-Type': 'application/x-www-form-urlencoded'},
            body: 'csrf=forged'});
        return r.status; }""")
    assert status == 403
    page.goto(f"{console.url}/console/programs")
    assert page.url.endswith("/console/programs")  # still logged in: the logout was refused


def test_the_session_cookie_holds_across_workers(console: Console, tab: Tab) -> None:
    """Two workers serve the console; each accepts the other's cookies (one secret, kept in
    the database when none is configured)."""
    log_in(tab.page, console.url, console.viewer)
    cookies = {c["name"]: c["value"] for c in tab.page.context.cookies()}
    statuses = set()
    for _ in range(20):  # new connections land on either worker
        with httpx.Client(cookies=cookies) as client:
            statuses.add(client.get(f"{console.url}/console/programs").status_code)
    assert statuses == {200}
    forged = {"loyalty_console": cookies["loyalty_console"][:-3] + "AAA"}
    answer = httpx.get(f"{console.url}/console/programs", cookies=forged)
    assert answer.status_code == 303 and "/console/login" in answer.headers["location"]


def test_revoking_the_key_ends_the_session(console: Console, tab: Tab) -> None:
    key = subprocess.run([*LOYALTY, "keys", "create", "--scope", "viewer", "--database-url",
                          console.server.database_url], check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    log_in(tab.page, console.url, key)
    assert tab.page.url.endswith("/console/programs")
    subprocess.run([*LOYALTY, "keys", "revoke", key[:10], "--database-url",
                    console.server.database_url], check=True, capture_output=True)
    tab.page.goto(f"{console.url}/console/programs")
    assert "/console/login" in tab.page.url
    assert "revoked" in tab.page.inner_text("main")
