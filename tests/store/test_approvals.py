"""Four-eyes approvals, activation plans and audit pages in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

import store.registry.approvals as approvals
import store.registry.audit as audit
import store.registry.rulesets as rulesets
from store.errors import Conflict, Forbidden
from store.registry.bootstrap import bootstrap
from store.registry.programs import ProgramCache
from tests.store.helpers import publish_retail, retail_version


def with_approvals(version: int, required: int | None, edit: tuple[str, str] | None = None):
    sources = retail_version(version, edit)
    if required is not None:
        sources["program.yaml"] += f"approvals:\n  required: {required}\n"
    return sources


def test_a_version_needs_its_approvals_by_others_than_its_publisher(db, server_clock):
    publish_retail(db, 1)  # live, declares no approvals
    rulesets.publish(db, with_approvals(2, 2), "key:lrk_ana")
    cache = ProgramCache()
    with pytest.raises(Conflict) as refused:
        rulesets.activate(db, cache, "retail", 2, "key:lrk_ana")
    assert refused.value.code == "approvals_required" and "has 0" in refused.value.message
    with db.writing() as s, pytest.raises(Forbidden) as own:
        approvals.approve(s, "retail", 2, "key:lrk_ana")
    assert own.value.code == "self_approval"
    rulesets.approve(db, "retail", 2, "key:lrk_ben", "checked")
    with pytest.raises(Conflict) as twice:
        rulesets.approve(db, "retail", 2, "key:lrk_ben")
    assert twice.value.code == "already_approved"
    with pytest.raises(Conflict):  # one of two
        rulesets.activate(db, cache, "retail", 2, "key:lrk_ana")
    state = rulesets.approve(db, "retail", 2, "key:lrk_cy")["approvals"]
    assert state["missing"] == 0 and [a["actor"] for a in state["approved_by"]] == [
        "key:lrk_ben", "key:lrk_cy"]
    done = rulesets.activate(db, cache, "retail", 2, "key:lrk_ana")
    assert done["already_live"] is False and done["version"] == 2


def test_the_stricter_of_the_live_and_the_new_declaration_counts(db, server_clock):
    publish_retail(db, 1)
    rulesets.publish(db, with_approvals(2, 1), "key:lrk_ana")
    rulesets.approve(db, "retail", 2, "key:lrk_ben")
    cache = ProgramCache()
    rulesets.activate(db, cache, "retail", 2, "key:lrk_ana")
    # Version 3 drops the declaration: the live version's still counts.
    rulesets.publish(db, with_approvals(3, None), "key:lrk_ana")
    with pytest.raises(Conflict) as refused:
        rulesets.activate(db, cache, "retail", 3, "key:lrk_ana")
    assert "needs 1 approval" in refused.value.message
    # So does a rollback to version 1 (published by the tests, never approved).
    with pytest.raises(Conflict):
        rulesets.activate(db, cache, "retail", 1, "key:lrk_ana")
    rulesets.approve(db, "retail", 1, "key:lrk_ben")
    back = rulesets.activate(db, cache, "retail", 1, "key:lrk_ana")
    assert back["version"] == 1
    with db.reading() as s:
        assert audit.entries(s, 1)[0].action == "ruleset.rollback"


def test_publish_and_activate_at_once_is_refused_whole_when_approvals_are_missing(db, server_clock):
    publish_retail(db, 1)
    with pytest.raises(Conflict):
        rulesets.publish(db, with_approvals(2, 1), "key:lrk_ana", activate="now")
    listing = rulesets.listing(db, ProgramCache(), "retail")["programs"][0]
    assert [v["version"] for v in listing["versions"]] == [1]  # nothing half-done


def test_reactivating_the_live_version_changes_nothing(db, server_clock):
    publish_retail(db, 1)
    with db.reading() as s:
        before = len(audit.entries(s))
    again = rulesets.activate(db, ProgramCache(), "retail", 1, "key:lrk_ana")
    assert again["already_live"] is True and "already live" in again["detail"]
    with db.reading() as s:
        assert len(audit.entries(s)) == before
    assert len(rulesets.show(db, "retail", 1)["activations"]) == 1


def test_a_plan_describes_the_activation_and_writes_nothing(db, server_clock):
    publish_retail(db, 1)
    rulesets.publish(db, with_approvals(2, 1, ("electronics: 2.0", "electronics: 3.0")),
                     "key:lrk_ana", "electronics x3")
    rulesets.publish(db, retail_version(3), "key:lrk_ana")
    cache = ProgramCache()
    later = server_clock.now + timedelta(days=30)
    rulesets.approve(db, "retail", 3, "key:lrk_ben")
    with db.writing() as s:  # version 3 scheduled in 30 days (the test's own scheduling)
        from store.registry import versions
        versions.activate(s, "retail", 3, "tests", later)
    with db.reading() as s:
        entries = len(audit.entries(s))
    at = server_clock.now + timedelta(days=10)
    plan = rulesets.activate(db, cache, "retail", 2, "key:lrk_ana", at, dry_run=True)
    assert plan["dry_run"] and plan["effective_from"] == at.isoformat()
    assert plan["live_version"] == 1 and plan["replaces"] == 1 and not plan["already_live"]
    assert plan["diff"]["changed"] == [{"rule": "earning.categories.electronics", "changes": [
        {"field": "value", "old": "2", "new": "3"}]}]
    assert any(a["rule"] == "approvals" for a in plan["diff"]["added"])
    assert plan["scheduled_before"] == [] and [a["version"] for a in plan["scheduled_after"]] == [3]
    assert plan["published"]["author"] == "key:lrk_ana" and plan["published"]["message"] == \
        "electronics x3"
    assert plan["approvals"] == {"required": 1, "publisher": "key:lrk_ana", "approved_by": [],
                                 "missing": 1}
    assert plan["refusal"]["code"] == "approvals_required"
    with db.reading() as s:
        assert len(audit.entries(s)) == entries
    assert len(rulesets.show(db, "retail", 2)["activations"]) == 0
    after = rulesets.activate(db, cache, "retail", 2, "key:lrk_ana",
                              later + timedelta(days=1), dry_run=True)
    assert [a["version"] for a in after["scheduled_before"]] == [3] and after["replaces"] == 3


def test_publish_warns_when_effective_from_is_unchanged(db):
    publish_retail(db, 1, activate=False)
    info, created = rulesets.publish(db, retail_version(2), "key:lrk_ana")
    assert created and [w["code"] for w in info["warnings"]] == ["effective_from_unchanged"]
    warning = info["warnings"][0]
    assert (warning["file"], warning["line"], warning["path"]) == (
        "program.yaml", 8, "$.effective_from")
    moved = retail_version(3)
    moved["program.yaml"] = moved["program.yaml"].replace("2026-01-01T00:00:00", "2027-01-01T00:00:00")
    assert rulesets.publish(db, moved, "key:lrk_ana")[0]["warnings"] == []


def test_bootstrap_is_exempt_and_says_so_in_the_audit_log(db):
    bootstrap(db)
    with db.reading() as s:
        activations = [e for e in audit.entries(s) if e.action == "ruleset.activate"]
    assert activations and all(e.actor == "bootstrap" and
                               e.detail["approvals"].startswith("exempt") for e in activations)


def test_audit_pages_newest_first_with_filters(db, server_clock):
    publish_retail(db, 1)
    for version in (2, 3, 4):
        rulesets.publish(db, retail_version(version), f"key:lrk_{version}")
    with db.reading() as s:
        first, cursor = audit.page(s, audit.AuditFilter(program="retail"), None, 2)
        assert [e.detail["version"] for e in first] == [4, 3] and cursor is not None
        rest, end = audit.page(s, audit.AuditFilter(program="retail"), cursor, 10)
        assert [e.action for e in rest] == ["ruleset.publish", "ruleset.activate",
                                            "ruleset.publish"] and end is None
        mine, _ = audit.page(s, audit.AuditFilter(actor="key:lrk_3"), None, 10)
        assert [e.detail["version"] for e in mine] == [3]
        acts, _ = audit.page(s, audit.AuditFilter(action="ruleset.activate"), None, 10)
        assert len(acts) == 1
        now = server_clock.now  # the audit log is stamped by the server clock
        assert audit.page(s, audit.AuditFilter(since=now + timedelta(minutes=1)), None, 10)[0] == []
        assert len(audit.page(s, audit.AuditFilter(until=now + timedelta(minutes=1)),
                              None, 10)[0]) == 5
        assert audit.page(s, audit.AuditFilter(program="other"), None, 10)[0] == []


def test_publish_returns_the_rulesets_own_warnings_with_the_registrys(db):
    publish_retail(db, 1, activate=False)
    draft = retail_version(2)
    draft["campaigns.yaml"] = draft["campaigns.yaml"].replace("categories: [fashion]",
                                                              "categories: [fashon]")
    info, created = rulesets.publish(db, draft, "key:lrk_ana")
    assert created
    assert [(w["code"], w["file"], w["path"]) for w in info["warnings"]] == [
        ("unknown_category", "campaigns.yaml", "$.campaigns[1].categories[0]"),
        ("effective_from_unchanged", "program.yaml", "$.effective_from")]
    assert info["warnings"][0]["hint"].startswith("Did you mean 'fashion'?")


def test_a_version_scheduled_after_one_that_requires_approvals_needs_them(db, server_clock):
    """Version 2 brings the rule and is scheduled for tomorrow: a version 3 without it,
    scheduled to replace version 2 the day after, needs version 2's approvals, as it would
    once version 2 is live (otherwise scheduling is a way around the rule)."""
    publish_retail(db, 1)
    cache = ProgramCache()
    now = server_clock.now
    rulesets.publish(db, with_approvals(2, 1), "key:lrk_ana")
    rulesets.approve(db, "retail", 2, "key:lrk_ben")
    rulesets.activate(db, cache, "retail", 2, "key:lrk_ana", now + timedelta(days=1))
    rulesets.publish(db, with_approvals(3, None), "key:lrk_ana")
    later = now + timedelta(days=2)
    plan = rulesets.activate(db, cache, "retail", 3, "key:lrk_ana", later, dry_run=True)
    assert plan["refusal"]["code"] == "approvals_required"
    with pytest.raises(Conflict) as refused:
        rulesets.activate(db, cache, "retail", 3, "key:lrk_ana", later)
    assert "needs 1 approval" in refused.value.message
    # Before version 2 takes effect, version 1's (no) requirement is the one replaced.
    sooner = rulesets.activate(db, cache, "retail", 3, "key:lrk_ana", now + timedelta(hours=1))
    assert sooner["version"] == 3
    rulesets.approve(db, "retail", 3, "key:lrk_ben")
    assert rulesets.activate(db, cache, "retail", 3, "key:lrk_ana", later)["version"] == 3


def test_a_rollback_is_told_by_the_version_replaced_at_its_instant(db, server_clock):
    import store.registry.versions as registry

    publish_retail(db, 1)  # live since its declared effective_from
    for version in (2, 3):
        rulesets.publish(db, retail_version(version), "key:lrk_ana")
    now = server_clock.now
    with db.writing() as s:
        registry.activate(s, "retail", 2, "tests", now)
        registry.activate(s, "retail", 3, "tests", now + timedelta(days=1))
        registry.activate(s, "retail", 1, "tests", now + timedelta(days=2))  # after 3: back
        registry.activate(s, "retail", 2, "tests", now + timedelta(days=3))  # after 1: forward
    with db.reading() as s:
        entries = [(e.action, e.detail["version"], e.detail["replaces"])
                   for e in reversed(audit.entries(s, 4))]
    assert entries == [("ruleset.activate", 2, 1), ("ruleset.activate", 3, 2),
                       ("ruleset.rollback", 1, 3), ("ruleset.activate", 2, 1)]
