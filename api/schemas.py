"""Request models of the HTTP API (kept apart from the table models).

They document the contract in OpenAPI and reject malformed input with located errors.
Every value is checked by the function of engine/evaluation/contract.py that the engine's own
request parser uses, so the API, `loyalty evaluate` and the JSON Schemas accept the same
documents (tests/engine/test_contract.py). Money is a decimal string (numbers are
accepted), points are integers, instants carry a UTC offset, and no string may hold a
control character or a lone surrogate.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import partial
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

import engine.evaluation.contract as contract
from api.ids import LINE as _LINE
from api.ids import Id, ProseCheck
from api.instants import Instant
from engine.evaluation.request import discount_problem


def _whole(least: int, most: int) -> BeforeValidator:
    return BeforeValidator(partial(contract.whole, least=least, most=most))


Money = Annotated[Decimal, BeforeValidator(contract.money),
                  Field(ge=0, lt=contract.MONEY_LIMIT, max_digits=16,
                        decimal_places=contract.MONEY_PLACES, examples=["499.99"]),
                  PlainSerializer(str, return_type=str)]
Name = Annotated[str, BeforeValidator(contract.text),
                 Field(min_length=1, max_length=contract.NAME_CHARS, pattern=_LINE)]
Key = Annotated[str, BeforeValidator(contract.key),
                Field(min_length=1, max_length=contract.KEY_CHARS, pattern=_LINE)]
ProgramId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]
Flag = Annotated[bool, BeforeValidator(contract.flag)]
Points = Annotated[int, _whole(1, contract.POINTS_LIMIT), Field(ge=1, le=contract.POINTS_LIMIT)]
Count = Annotated[int, _whole(0, contract.POINTS_LIMIT), Field(ge=0, le=contract.POINTS_LIMIT)]
Version = Annotated[int, _whole(1, contract.VERSION_LIMIT),
                    Field(ge=1, le=contract.VERSION_LIMIT)]
Quantity = Annotated[int, _whole(1, contract.QUANTITY_LIMIT),
                     Field(ge=1, le=contract.QUANTITY_LIMIT)]
_SCALAR_SCHEMA: dict[str, Any] = {"anyOf": [
    {"type": "string", "maxLength": contract.NAME_CHARS},
    {"type": "number", "exclusiveMinimum": -contract.NUMBER_LIMIT,
     "exclusiveMaximum": contract.NUMBER_LIMIT},
    {"type": "boolean"}, {"type": "null"}]}
ContextValue = Annotated[Any, PlainValidator(partial(contract.free_value, lists=False)),
                         WithJsonSchema(_SCALAR_SCHEMA)]
AttributeValue = Annotated[Any, PlainValidator(partial(contract.free_value, lists=True)),
                           WithJsonSchema({"anyOf": [*_SCALAR_SCHEMA["anyOf"], {
                               "type": "array", "maxItems": contract.MAX_LIST,
                               "items": {"type": "string", "maxLength": contract.NAME_CHARS}}]})]
Segments = Annotated[list[Annotated[str, BeforeValidator(partial(contract.text, least=0)),
                                    Field(max_length=contract.NAME_CHARS)]],
                     Field(max_length=contract.MAX_LIST)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Attributes(BaseModel):
    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, AttributeValue] = Field(init=False)  # type: ignore[assignment]
    segments: Segments | None = None
    birthday: Annotated[date, BeforeValidator(contract.calendar_date)] | None = None
    enrolled_at: Annotated[str, BeforeValidator(contract.date_or_instant)] | None = Field(
        None, description="a date or an instant")

    @model_validator(mode="before")
    @classmethod
    def _names(cls, data: Any) -> Any:
        if isinstance(data, dict):
            if len(data) > contract.MAX_ATTRIBUTES:
                raise ValueError(f"at most {contract.MAX_ATTRIBUTES} attributes, got "
                                 f"{len(data)}")
            for name in data:
                try:
                    contract.key(name)
                except ValueError as exc:
                    raise ValueError(f"attribute name {name!r}: {exc}") from None
        return data


class QualifyingIn(Strict):
    spend: Money | None = None
    orders: Count | None = None


_Counters = Field(None, max_length=contract.MAX_COUNTERS)


class StateIn(Strict):
    """Stored state for a stateless dry-run; the server ignores it (it has its own)."""

    orders_count: Count | None = None
    qualifying: QualifyingIn | None = None
    cap_usage: dict[Key, Money] | None = _Counters
    campaign_usage: dict[Key, Count] | None = _Counters
    campaign_budget_used: dict[Key, Count] | None = _Counters
    challenge_spend: dict[Key, Money] | None = _Counters
    reward_stock: dict[Key, Count] | None = _Counters
    activity_counts: dict[Key, Count] | None = _Counters
    awarded_upgrades: Annotated[list[Name], Field(max_length=contract.MAX_LIST)] | None = None
    enrolments: Annotated[list[Name], Field(max_length=contract.MAX_LIST)] | None = None
    codes: Annotated[dict[Code, Id], BeforeValidator(contract.code_map),
                     Field(max_length=contract.MAX_CODES)] | None = None


class MemberIn(Strict):
    id: Id
    tier: Name | None = Field(None, description="ignored in server mode: the store's tier counts")
    points_balance: Count | None = Field(None, description="ignored in server mode")
    attributes: Attributes | None = None
    state: StateIn | None = Field(None, description="ignored in server mode")


class LineIn(Strict):
    sku: Name
    category: Name
    quantity: Quantity
    unit_price: Money
    discount: Money = Field(Decimal(0), description="at most quantity × unit_price")

    @field_validator("discount")
    @classmethod
    def _within_line(cls, discount: Decimal, info: ValidationInfo) -> Decimal:
        quantity, price = info.data.get("quantity"), info.data.get("unit_price")
        if quantity is not None and price is not None:
            problem = discount_problem(quantity, price, discount)
            if problem:
                raise ValueError(problem)
        return discount


class OrderIn(Strict):
    id: Id
    placed_at: Instant
    channel: Name | None = None
    currency: Annotated[str, BeforeValidator(contract.currency),
                        Field(pattern=contract.CURRENCY_PATTERN)] | None = Field(
        None, description="ISO 4217; must be the program's currency (default: it is)")
    shipping: Money = Decimal(0)
    tax: Money = Decimal(0)
    lines: list[LineIn] = Field(max_length=contract.MAX_LINES)


class RedeemIn(Strict):
    points: Points | None = None
    reward_id: Name | None = None
    quantity: Annotated[int, _whole(1, contract.REDEEM_QUANTITY_LIMIT),
                        Field(ge=1, le=contract.REDEEM_QUANTITY_LIMIT)] = 1

    @model_validator(mode="after")
    def one_of(self) -> RedeemIn:
        if (self.points is None) == (self.reward_id is None):
            raise ValueError('give either "points" or "reward_id"')
        if self.points is not None and "quantity" in self.model_fields_set:
            raise ValueError('"quantity" goes with "reward_id", not with "points"')
        return self


Code = Annotated[str, BeforeValidator(contract.code),
                 Field(pattern=contract.CODE_PATTERN, examples=["K7QF-2MZP-9XWA"])]


class EvaluationIn(Strict):
    member: MemberIn
    order: OrderIn | None = None
    redeem: RedeemIn | None = None
    explain: Flag = False
    as_of: Instant | None = None
    context: dict[Key, ContextValue] | None = Field(None, max_length=contract.MAX_CONTEXT)
    codes: Annotated[list[Code], BeforeValidator(contract.codes)] | None = Field(
        None, max_length=contract.MAX_CODES,
        description="coupon codes of campaigns that require one; the result's `codes` says "
        "what became of each (a commit uses those whose campaign applied)")
    ruleset_version: Version | None = Field(
        None, description="pin a version instead of the one live at placed_at")

    @model_validator(mode="after")
    def has_time(self) -> EvaluationIn:
        if self.order is None and self.as_of is None:
            raise ValueError("an order or as_of is required (evaluation time comes from the request)")
        return self

    def engine_request(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", exclude_none=True, exclude={"ruleset_version"})
        if self.redeem is not None and self.redeem.points is not None:
            out["redeem"].pop("quantity", None)  # the default, which goes with rewards only
        return out


class CommitIn(EvaluationIn):
    order: OrderIn


class RefundLineIn(Strict):
    index: Annotated[int, _whole(0, contract.MAX_LINES - 1),
                     Field(ge=0, le=contract.MAX_LINES - 1)] | None = Field(
        None, description="order line index")
    sku: Name | None = None
    quantity: Quantity

    @model_validator(mode="after")
    def names_a_line(self) -> RefundLineIn:
        if self.index is None and self.sku is None:
            raise ValueError('name the line by "index" or "sku"')
        return self


class RefundIn(Strict):
    refund_id: Id
    refunded_at: Instant | None = Field(None, description="default: now")
    lines: list[RefundLineIn] | None = Field(None, min_length=1, max_length=contract.MAX_LINES,
                                             description="omit for a full refund; "
                                             "an empty list is refused")
    amount: Money | None = Field(None, description="refund this merchandise amount instead "
                                 "of lines (more than 0; beyond what is left of the order, "
                                 "the rest); points are reversed in proportion")

    @field_validator("amount")
    @classmethod
    def _amount(cls, amount: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if amount is not None and amount <= 0:
            raise ValueError("must be more than 0 (omit it to refund the whole order)")
        if amount is not None and info.data.get("lines") is not None:
            raise ValueError('give "lines" or "amount", not both')
        return amount


Activity = Literal["account_creation", "first_purchase", "product_review", "referral",
                   "social_share", "birthday"]


class ActivityIn(Strict):
    event_id: Id
    member_id: Id
    activity: Activity
    occurred_at: Instant
    friend_id: Id | None = Field(None, description="referral: the referred friend")
    attributes: Attributes | None = None
    ruleset_version: Version | None = None


class EnrolmentIn(Strict):
    event_id: Id = Field(description="idempotency: a retry with the same id and body "
                         "returns the first answer")
    member_id: Id
    enrolled_at: Instant
    attributes: Attributes | None = None
    tier: Name | None = Field(None, description="the tier the member starts in (default: "
                              "the lowest); held as a tier at enrolment is held")
    referred_by: Id | None = Field(None, description="the member who referred this one: "
                                   "they earn the referral, this member the friend bonus")
    referral_code: Code | None = Field(None, description="instead of referred_by: the "
                                       "referral code of the member who referred this one")

    @model_validator(mode="after")
    def one_referrer(self) -> EnrolmentIn:
        if self.referred_by is not None and self.referral_code is not None:
            raise ValueError('give "referred_by" or "referral_code", not both')
        return self


class ParticipantIn(Strict):
    member_id: Id
    at: Instant | None = Field(None, description="when the member joins (default: now)")


class CodesIn(Strict):
    count: int = Field(ge=1, le=100_000, description="how many codes to make")
    uses: int = Field(1, ge=1, le=1_000_000, description="uses of each code (1: single-use)")


class PublishIn(Strict):
    sources: dict[Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[\w.-]+\.ya?ml$")],
                  Annotated[str, ProseCheck, Field(max_length=2_000_000)]] = Field(
        min_length=1, max_length=50)
    message: Annotated[str, ProseCheck, Field(max_length=2000)] = ""
    activate: Literal["no", "now", "effective_from"] = "no"


class ActivateIn(Strict):
    effective_from: Instant | None = Field(None, description="default: now")
    at: Literal["now", "effective_from"] = Field(
        "now", description="`effective_from`: use the version's declared effective_from")
    dry_run: bool = Field(False, description="describe what the activation would do (diff "
                          "against the live version, instant, schedule around it, publisher, "
                          "approvals, refusal) and write nothing")


class ApproveIn(Strict):
    message: Annotated[str, ProseCheck, Field(max_length=2000)] = Field(
        "", description="why the version is approved, for the audit log")
