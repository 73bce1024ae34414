"""Companies, account managers and personal keys in the store (SQLite; PostgreSQL with
CI=true): uniqueness per program, validation naming the field, audit of every change,
and keys that stop resolving once revoked or once their manager or company is
deactivated."""

from __future__ import annotations

import pytest

import store.b2b.companies as companies
import store.b2b.keys as manager_keys
import store.b2b.managers as managers
import store.registry.audit as audit
from store.b2b.companies import CompanyChange
from store.b2b.principals import Manager, grants
from store.errors import Conflict, NotFound, Unprocessable
from tests.store.b2b_helpers import PROGRAM, TIERS, make_company, make_manager, publish_b2b


@pytest.fixture
def b2b(db):
    publish_b2b(db)
    return db


def test_company_ids_and_accounts_are_unique_per_program(b2b):
    acme = make_company(b2b, "ACME", "ACC-1", threshold=50_000)
    assert (acme.company_id, acme.tier, acme.approval_threshold, acme.active) == \
        ("ACME", "enterprise", 50_000, True)
    with pytest.raises(Conflict) as same_id:
        make_company(b2b, "ACME", "ACC-2")
    assert same_id.value.code == "company_exists"
    with pytest.raises(Conflict) as same_account:
        make_company(b2b, "GLOBEX", "ACC-1")
    assert same_account.value.code == "account_taken"
    assert same_account.value.pointer == "/loyalty_account_id"


@pytest.mark.parametrize(("field", "value", "code"), [
    ("tier", "gold", "unknown_tier"),
    ("company_id", "", "invalid_id"),
    ("company_id", "A\x00B", "invalid_id"),
    ("loyalty_account_id", "x" * 129, "invalid_id"),
    ("name", "   ", "invalid_name"),
    ("approval_threshold", -1, "invalid_threshold"),
])
def test_bad_company_fields_are_refused_naming_the_field(b2b, field, value, code):
    fields = {"company_id": "ACME", "name": "Acme", "loyalty_account_id": "ACC-1",
              "tier": "business", "approval_threshold": None, field: value}
    with b2b.writing() as session, pytest.raises(Unprocessable) as refused:
        companies.create(session, PROGRAM, tiers=TIERS, **fields)
    assert (refused.value.code, refused.value.pointer) == (code, f"/{field}")


def test_a_company_of_an_unknown_program_is_refused(b2b):
    with b2b.writing() as session, pytest.raises(NotFound):
        companies.create(session, "nope", "ACME", "Acme", "ACC", "standard", TIERS)


def test_update_changes_only_what_is_given_and_audits_it(b2b):
    make_company(b2b, "ACME", threshold=1000)
    with b2b.writing() as session:
        changed = companies.update(session, PROGRAM, "ACME",
                                   CompanyChange(tier="business", clear_threshold=True),
                                   TIERS, actor="key:admin")
    assert (changed.tier, changed.approval_threshold, changed.name) == \
        ("business", None, "ACME Inc.")
    with b2b.writing() as session:
        companies.deactivate(session, PROGRAM, "ACME", actor="key:admin")
        listed = companies.listing(session, PROGRAM)
        assert companies.listing(session, PROGRAM, active=True) == []
        actions = [e.action for e in audit.entries(session)]
    assert [c.active for c in listed] == [False]
    assert actions[:3] == ["company.deactivate", "company.update", "company.create"]


def test_a_manager_key_resolves_to_the_manager_until_revoked(b2b):
    make_company(b2b, "ACME")
    key = make_manager(b2b, "ACME", "alice", "requester")
    assert key.startswith("lmk_")
    with b2b.reading() as session:
        found = manager_keys.verify(session, key)
        company = companies.get(session, PROGRAM, "ACME")
    assert found == Manager(PROGRAM, "ACME", company.pk, "alice", "requester")
    with b2b.writing() as session:
        listed = manager_keys.listing(session, PROGRAM, "ACME", "alice")
        assert key not in str(listed)
        manager_keys.revoke(session, PROGRAM, "ACME", "alice", listed[0].prefix)
    with b2b.reading() as session:
        assert manager_keys.verify(session, key) is None
        assert manager_keys.verify(session, key + "x") is None


@pytest.mark.parametrize("deactivate", ["manager", "company"])
def test_keys_stop_resolving_when_the_manager_or_company_is_deactivated(b2b, deactivate):
    make_company(b2b, "ACME")
    key = make_manager(b2b, "ACME", "alice", "viewer")
    with b2b.writing() as session:
        if deactivate == "manager":
            managers.deactivate(session, PROGRAM, "ACME", "alice")
        else:
            companies.deactivate(session, PROGRAM, "ACME")
    with b2b.reading() as session:
        assert manager_keys.verify(session, key) is None
        assert managers.principal(session, PROGRAM, "alice") is None


def test_managers_belong_to_one_company(b2b):
    make_company(b2b, "ACME")
    make_company(b2b, "GLOBEX")
    make_manager(b2b, "ACME", "alice", "company_admin")
    with b2b.writing() as session:
        with pytest.raises(Conflict):
            managers.create(session, PROGRAM, "GLOBEX", "alice", "A", "a@example.com", "viewer")
        with pytest.raises(NotFound):  # alice is not GLOBEX's manager
            managers.deactivate(session, PROGRAM, "GLOBEX", "alice")
        with pytest.raises(NotFound):
            manager_keys.issue(session, PROGRAM, "GLOBEX", "alice")
        with pytest.raises(Unprocessable) as bad_role:
            managers.create(session, PROGRAM, "ACME", "bob", "Bob", "b@example.com", "owner")
        assert bad_role.value.pointer == "/role"
        assert [m.manager_id for m in managers.listing(session, PROGRAM, "GLOBEX")] == []


def test_roles_grant_what_the_portal_promises():
    assert grants("requester", "viewer") and not grants("viewer", "requester")
    assert grants("approver", "viewer") and not grants("approver", "requester")
    assert not grants("requester", "approver")
    assert all(grants("company_admin", role)
               for role in ("viewer", "requester", "approver", "company_admin"))
    assert not grants("nobody", "viewer")
