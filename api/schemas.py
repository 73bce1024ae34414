"""Request models of the HTTP API (kept apart from the table models).

They document the contract in OpenAPI and reject malformed input with located errors;
the engine re-checks the evaluation semantics. Money is a decimal string (numbers are
accepted), points are integers, instants carry a UTC offset.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainSerializer, model_validator

Money = Annotated[Decimal, Field(ge=0, lt=1_000_000_000, max_digits=16, decimal_places=4,
                                 examples=["499.99"]), PlainSerializer(str, return_type=str)]
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]
ProgramId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]
Scalar = str | int | bool | None
Attribute = Scalar | list[Annotated[str, Field(max_length=200)]]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Attributes(BaseModel):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Attribute] = Field(init=False)  # type: ignore[assignment]
    segments: list[Annotated[str, Field(max_length=200)]] | None = Field(None, max_length=100)
    birthday: date | None = None
    enrolled_at: date | None = None


class MemberIn(Strict):
    id: Id
    tier: Name | None = Field(None, description="ignored in server mode: the store's tier counts")
    points_balance: int | None = Field(None, ge=0, description="ignored in server mode")
    attributes: Attributes | None = None


class LineIn(Strict):
    sku: Name
    category: Name
    quantity: int = Field(ge=1, le=1_000_000)
    unit_price: Money
    discount: Money = Decimal(0)


class OrderIn(Strict):
    id: Id
    placed_at: AwareDatetime
    channel: Name | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    shipping: Money = Decimal(0)
    tax: Money = Decimal(0)
    lines: list[LineIn] = Field(max_length=500)


class RedeemIn(Strict):
    points: int | None = Field(None, ge=1, le=10**12)
    reward_id: Name | None = None
    quantity: int = Field(1, ge=1, le=1000)

    @model_validator(mode="after")
    def one_of(self) -> RedeemIn:
        if (self.points is None) == (self.reward_id is None):
            raise ValueError('give either "points" or "reward_id"')
        return self


class EvaluationIn(Strict):
    member: MemberIn
    order: OrderIn | None = None
    redeem: RedeemIn | None = None
    explain: bool = False
    as_of: AwareDatetime | None = None
    context: dict[Annotated[str, Field(max_length=100)], Scalar] | None = Field(None, max_length=50)
    ruleset_version: int | None = Field(None, ge=1, le=2**31 - 1,
                                        description="pin a version instead of the one live at placed_at")

    @model_validator(mode="after")
    def has_time(self) -> EvaluationIn:
        if self.order is None and self.as_of is None:
            raise ValueError("an order or as_of is required (evaluation time comes from the request)")
        return self

    def engine_request(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude={"ruleset_version"})


class CommitIn(EvaluationIn):
    order: OrderIn


class RefundLineIn(Strict):
    index: int | None = Field(None, ge=0, le=499, description="order line index")
    sku: Name | None = None
    quantity: int = Field(ge=1, le=1_000_000)

    @model_validator(mode="after")
    def names_a_line(self) -> RefundLineIn:
        if self.index is None and self.sku is None:
            raise ValueError('name the line by "index" or "sku"')
        return self


class RefundIn(Strict):
    refund_id: Id
    refunded_at: AwareDatetime | None = Field(None, description="default: now")
    lines: list[RefundLineIn] | None = Field(None, min_length=1, max_length=500,
                                             description="omit for a full refund; "
                                             "an empty list is refused")


Activity = Literal["account_creation", "first_purchase", "product_review", "referral",
                   "social_share", "birthday"]


class ActivityIn(Strict):
    event_id: Id
    member_id: Id
    activity: Activity
    occurred_at: AwareDatetime
    friend_id: Id | None = Field(None, description="referral: the referred friend")
    attributes: Attributes | None = None
    ruleset_version: int | None = Field(None, ge=1, le=2**31 - 1)


class PublishIn(Strict):
    sources: dict[Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\w.-]+\.ya?ml$")],
                  Annotated[str, Field(max_length=2_000_000)]] = Field(min_length=1, max_length=50)
    message: Annotated[str, Field(max_length=2000)] = ""
    activate: Literal["no", "now", "effective_from"] = "no"


class ActivateIn(Strict):
    effective_from: AwareDatetime | None = Field(None, description="default: now")
    at: Literal["now", "effective_from"] = Field(
        "now", description="`effective_from`: use the version's declared effective_from")
