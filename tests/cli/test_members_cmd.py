"""`loyalty members` against a real `loyalty serve` on loopback: adjust, suspend (the
service then refuses the member's orders), tier override, erase, and the filtered
listings; refusals are one line on stderr with exit 1."""

from __future__ import annotations

import json

import httpx
import pytest
from click.testing import CliRunner

from cli.main import cli
from tests.api.server import running_server
from tests.store.db_support import scratch_database
from tests.store.helpers import order

BASE = "/v1/programs/retail"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("service")
    with scratch_database(tmp) as database_url, running_server(database_url, tmp, workers=1) as srv:
        yield srv


def loyalty(service, key: str, *args: str):
    env = {"LOYALTY_URL": service.url, "LOYALTY_KEY": key, "LOYALTY_DATABASE_URL": None}
    return CliRunner().invoke(cli, ["members", *args], env=env, catch_exceptions=False)


def commit(service, order_id: str, member: str):
    r = httpx.post(f"{service.url}{BASE}/orders", json=order(order_id, member=member),
                   headers={"Authorization": f"Bearer {service.key}"})
    return r


def test_members_commands_over_the_service(service):
    admin = service.admin_key
    assert commit(service, "CLI-O-1", "CLI-1").status_code == 201
    r = loyalty(service, admin, "adjust", "retail", "CLI-1", "250", "--reason", "goodwill")
    assert r.exit_code == 0, r.output
    assert "+250 points" in r.output
    r = loyalty(service, admin, "adjust", "retail", "CLI-1", "--reason", "dup", "--", "-50")
    assert r.exit_code == 0 and "-50 points" in r.output, r.output
    r = loyalty(service, admin, "ledger", "retail", "CLI-1", "--kind", "adjust")
    assert r.exit_code == 0, r.output
    assert [e["points"] for e in json.loads(r.output)["entries"]] == [-50, 250]
    r = loyalty(service, admin, "status", "retail", "CLI-1", "suspended", "--reason", "review")
    assert r.exit_code == 0 and "active -> suspended" in r.output, r.output
    refused = commit(service, "CLI-O-2", "CLI-1")
    assert refused.status_code == 409 and refused.json()["code"] == "member_suspended"
    r = loyalty(service, admin, "tier", "retail", "CLI-1", "gold", "--until",
                "2099-01-01T00:00:00Z", "--reason", "status match")
    assert r.exit_code == 0 and "tier gold" in r.output, r.output
    r = loyalty(service, admin, "show", "retail", "CLI-1")
    shown = json.loads(r.output)
    assert shown["status"] == "suspended" and shown["tier"] == "gold"
    r = loyalty(service, admin, "erase", "retail", "CLI-1", "--reason", "request 7")
    assert r.exit_code == 0 and "attributes removed" in r.output, r.output
    r = loyalty(service, admin, "redemptions", "retail", "CLI-1")
    # the member's first electronics order reached a milestone whose catalog reward is a gift
    assert r.exit_code == 0, r.output
    assert [(x["kind"], x["points"], x["reward_id"]) for x in json.loads(r.output)[
        "redemptions"]] == [("gift", 0, "REWARD-002")]


@pytest.mark.parametrize(("args", "message"), [
    (["adjust", "retail", "NOBODY", "5", "--reason", "x"], "unknown_member"),
    (["adjust", "retail", "CLI-1", "0", "--reason", "x"], "at least one point"),
    (["adjust", "retail", "CLI-1", "5"], "Missing option '--reason'"),
    (["status", "retail", "CLI-1", "frozen", "--reason", "x"], "'frozen' is not one of"),
    (["tier", "retail", "CLI-1", "--reason", "x"], "name a TIER, or pass --lift"),
    (["tier", "retail", "CLI-1", "gold", "--until", "soon", "--reason", "x"], "--until"),
    (["ledger", "retail", "CLI-1", "--cursor", "abc"], "not a cursor"),
    (["tier", "retail", "CLI-1", "diamond", "--reason", "x"], "unknown_tier"),
])
def test_refusals_are_one_line(service, args, message):
    commit(service, "CLI-O-9", "CLI-1")
    r = loyalty(service, service.admin_key, *args)
    assert r.exit_code in (1, 2), r.output
    assert message in r.output and "Traceback" not in r.output


def test_a_key_without_the_admin_scope_is_refused(service):
    commit(service, "CLI-O-8", "CLI-2")
    r = loyalty(service, service.key, "adjust", "retail", "CLI-2", "5", "--reason", "x")
    assert r.exit_code == 1 and "forbidden_scope" in r.output


def test_preferences_commands_over_the_service(service):
    admin = service.admin_key
    assert commit(service, "CLI-P-1", "CLI-P").status_code == 201
    r = loyalty(service, admin, "preferences", "show", "retail", "CLI-P")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["channels"] == ["email", "webhook"]
    r = loyalty(service, admin, "preferences", "set", "retail", "CLI-P", "--locale", "es",
                "--email", "ana@example.com", "--channel", "email", "--marketing-opt-out")
    assert r.exit_code == 0, r.output
    shown = json.loads(r.output)
    assert (shown["locale"], shown["email"], shown["channels"], shown["marketing_opt_out"]) \
        == ("es", "ana@example.com", ["email"], True)
    r = loyalty(service, admin, "preferences", "set", "retail", "CLI-P", "--no-channels",
                "--default-locale", "--marketing-opt-in")
    shown = json.loads(r.output)
    assert (shown["locale"], shown["email"], shown["channels"], shown["marketing_opt_out"]) \
        == (None, "ana@example.com", [], False)
    r = loyalty(service, admin, "preferences", "set", "retail", "CLI-P")
    assert r.exit_code != 0 and "at least one preference" in r.output
    r = loyalty(service, admin, "preferences", "set", "retail", "CLI-P", "--email", "x y")
    assert r.exit_code == 1 and "email" in r.output, r.output
    r = loyalty(service, admin, "messages", "retail", "CLI-P", "--status", "sent")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["messages"] == []
