"""Request models of the B2B portal's routes (kept apart from the table models)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Path
from pydantic import Field

from api.ids import Id, ProseCheck
from api.schemas import Strict
from store.b2b.principals import ROLES

Name = Annotated[str, ProseCheck, Field(min_length=1, max_length=200)]
Tier = Annotated[str, ProseCheck, Field(min_length=1, max_length=64,
                                        description="a tier id of the program's ruleset")]
Threshold = Annotated[int, Field(ge=0, le=2**31 - 1, description="orders above this many "
                                 "points wait for an approver")]
Role = Literal["viewer", "requester", "approver", "company_admin"]
assert set(Role.__args__) == set(ROLES)  # type: ignore[attr-defined]
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]

CompanyPath = Annotated[Id, Path(description="the company's id in the program")]
ManagerPath = Annotated[Id, Path(description="the account manager's id in the program")]
KeyPrefix = Annotated[str, Path(pattern=r"^lmk_[A-Za-z0-9_-]{8}$",
                                description="the key's prefix, as listed")]


class CompanyIn(Strict):
    company_id: Id = Field(description="the company's public id (unique in the program)")
    name: Name
    loyalty_account_id: Id = Field(description="its account in the external points API "
                                   "(unique in the program)")
    tier: Tier
    approval_threshold: Threshold | None = Field(None, description="null: orders never "
                                                 "wait for approval")


class CompanyPatch(Strict):
    name: Name | None = None
    loyalty_account_id: Id | None = None
    tier: Tier | None = None
    approval_threshold: Threshold | None = Field(None, description="null (given): orders "
                                                 "never wait for approval; absent: unchanged")
    active: bool | None = Field(None, description="false deactivates the company; true "
                                "reactivates it")


class ManagerIn(Strict):
    manager_id: Id = Field(description="the manager's id (unique in the program); a JWT's "
                           "`sub`")
    name: Name
    email: Email
    role: Role


class ManagerPatch(Strict):
    name: Name | None = None
    email: Email | None = None
    role: Role | None = None
    active: bool | None = None


class KeyIn(Strict):
    name: Annotated[str, ProseCheck, Field(max_length=200)] = Field(
        "", description="what the key is for (shown in listings)")
