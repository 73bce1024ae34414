"""Who acts on the B2B portal and what their role lets them do.

Roles: `viewer` sees the company's catalog, balance and history; `requester` also places
orders; `approver` sees what a viewer sees and approves orders above the company's
threshold (never their own); `company_admin` manages the company's managers and may do
everything the others may."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("viewer", "requester", "approver", "company_admin")

# what each role may act as (itself included)
GRANTS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"viewer"}),
    "requester": frozenset({"viewer", "requester"}),
    "approver": frozenset({"viewer", "approver"}),
    "company_admin": frozenset(ROLES),
}


def grants(role: str, needed: str) -> bool:
    """Whether a manager with `role` may act as `needed`."""
    return needed in GRANTS.get(role, frozenset())


@dataclass(frozen=True)
class Manager:
    """An authenticated account manager: the company they act for and their role.
    `company_id` is the company's public id, `company_pk` its row id."""

    program: str
    company_id: str
    company_pk: int
    manager_id: str
    role: str

    @property
    def actor(self) -> str:
        """How the audit log and the records of orders name this manager."""
        return f"manager:{self.manager_id}"

    def may(self, *roles: str) -> bool:
        """Whether this manager may act as any of `roles`."""
        return any(grants(self.role, role) for role in roles)
