"""The domain events the platform publishes: every type, its payload fields in order,
each field's JSON type and what it means. This is the single source: the envelope
(:class:`engine.events.event.DomainEvent`), ``schemas/events.schema.json`` and
``docs/events.md`` are all generated from or checked against it.

An *alert* is an event the engine raises about the future (points about to expire, a
tier within reach), not a record of a state change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["ENVELOPE", "EVENT_TYPES", "EventType", "Field", "payload_fields"]


@dataclass(frozen=True, slots=True)
class Field:
    """One field: its name, JSON types (``("integer",)``, ``("string", "null")``), what it
    means, and optionally the values it may take, a string format or, for an object,
    its own fields."""

    name: str
    types: tuple[str, ...]
    description: str
    enum: tuple[str, ...] = ()
    format: str | None = None
    fields: tuple[Field, ...] = ()


@dataclass(frozen=True, slots=True)
class EventType:
    name: str
    description: str
    fields: tuple[Field, ...]
    alert: bool = False
    member: bool = True  # False: about the program, not one member (member_id is "")


def _int(name: str, description: str) -> Field:
    return Field(name, ("integer",), description)


def _str(name: str, description: str, *, null: bool = False, fmt: str | None = None) -> Field:
    return Field(name, ("string", "null") if null else ("string",), description, format=fmt)


_BALANCE = _int("balance", "The member's points balance after the change.")
_SOURCE_REF = _str("source_ref", "The id of what caused the change (order id, refund reference, redemption id, adjustment reference).")
_SOURCE_TYPE = _str("source_type", "What caused the change: order, refund, activity, redemption, expiry, tier or admin.")
_RULE = _str("rule", "The earning rule or campaign that decided the points; null when no rule did.", null=True)
_REDEMPTION = (
    _str("redemption_id", "The redemption's id."),
    _str("reward_id", "The catalog reward redeemed; null for points paid against an order.", null=True),
    _int("quantity", "Units of the reward."),
    _int("points", "Points the redemption costs (positive; 0 for a milestone's gift)."),
    _str("status", "The redemption's status after the change: completed, held, captured, released, cancelled, or the fulfilment step reached."),
)

#: The envelope every event carries, around its payload.
ENVELOPE: tuple[Field, ...] = (
    _str("id", "Unique id of the event (a UUID), assigned when it is written; webhook deliveries carry it as `webhook-id`.", fmt="uuid"),
    _str("type", "The event type, one of the types below."),
    _str("program", "The program's key."),
    _str("member_id", "The member the event is about; empty for an event about the program rather than one member (`inventory.low_stock`)."),
    _str("at", "When it happened: an ISO 8601 instant in UTC.", fmt="date-time"),
    _int("ruleset_version", "The version of the program's ruleset that decided it; 0 when no ruleset did (`inventory.low_stock`: stock is kept apart from versions)."),
    Field("payload", ("object",), "What happened, per type (below)."),
)

_TYPES: tuple[EventType, ...] = (
    EventType("points.earned", "Points credited for an order, an activity or a bonus.", (
        _int("points", "Points credited (positive)."),
        Field("kind", ("string",), "`earn` for base points, `bonus` for a bonus or campaign.",
              enum=("earn", "bonus")),
        _RULE, _SOURCE_TYPE, _SOURCE_REF,
        _str("expires_at", "When these points expire (ISO 8601 instant); null when they do not.", null=True, fmt="date-time"),
        _BALANCE,
    )),
    EventType("points.reversed", "Points taken back by a refund (negative), or given back to the member (positive).", (
        _int("points", "Points moved, signed: negative when taken back, positive when given back."),
        _RULE, _SOURCE_TYPE, _SOURCE_REF, _BALANCE,
    )),
    EventType("points.redeemed", "Points spent on a redemption.", (
        _int("points", "Points taken (positive)."),
        _SOURCE_REF, _BALANCE,
    )),
    EventType("points.expired", "Points that reached their expiry date and were removed.", (
        _int("points", "Points removed (positive)."),
        _BALANCE,
    )),
    EventType("points.adjusted", "An administrator's manual adjustment.", (
        _int("points", "Points added (positive) or removed (negative)."),
        _SOURCE_REF,
        _str("reason", "The reason given for the adjustment; null when none was.", null=True),
        _BALANCE,
    )),
    EventType("tier.changed", "The member's tier changed (or was re-confirmed).", (
        _str("before", "The tier before; null when the member had none.", null=True),
        _str("after", "The tier after; null when the member has none.", null=True),
        _str("cause", "What moved the tier: order, refund, challenge, time (a period ended) or enroll."),
        Field("direction", ("string",), "`up` for a higher tier, `down` for a lower one, `same` otherwise.",
              enum=("up", "down", "same")),
    )),
    EventType("milestone.reached", "The member reached a milestone declared in the ruleset (once per member).", (
        _str("milestone", "The milestone's key in the ruleset."),
        _str("name", "The milestone's display name."),
        Field("reward", ("object",), "What the milestone gives.", fields=(
            Field("points", ("integer", "null"), "Points credited; null when none."),
            _str("badge", "Badge awarded; null when none.", null=True),
            _str("reward_id", "Catalog reward granted; null when none.", null=True),
            Field("gift", ("string", "null"), "For a catalog reward: `issued` (a redemption of 0 points, kind `gift`, fulfilled like any reward) or `out_of_stock` (no unit was left: the milestone is reached, the reward is not given); null without a catalog reward.",
                  enum=("issued", "out_of_stock")),
        )),
    )),
    EventType("redemption.created", "A redemption was made: its points are held or taken.", _REDEMPTION),
    EventType("redemption.captured", "A held redemption was confirmed: its points are spent.", _REDEMPTION),
    EventType("redemption.released", "A held redemption was let go: its points went back to the member.", _REDEMPTION),
    EventType("redemption.cancelled", "A redemption was cancelled: its points went back to the member.", _REDEMPTION),
    EventType("redemption.fulfilled", "The reward of a redemption was delivered.", _REDEMPTION),
    EventType("points.expiring", "Points will expire soon (one alert per batch of lots).", (
        _int("points", "Points that will expire."),
        _str("expires_at", "When they expire (ISO 8601 instant).", fmt="date-time"),
        _int("days_left", "Whole days until they expire, in the program's timezone."),
    ), alert=True),
    EventType("tier.within_reach", "The member is close to the next tier.", (
        _str("tier", "The member's current tier; null when none.", null=True),
        _str("next_tier", "The tier within reach."),
        _str("missing_spend", "Qualifying spend still missing, as a decimal string; null when spend does not count.", null=True),
        Field("missing_orders", ("integer", "null"), "Qualifying orders still missing; null when orders do not count."),
    ), alert=True),
    EventType("reward.affordable", "The member's balance now covers a catalog reward.", (
        _str("reward_id", "The catalog reward."),
        _str("name", "The reward's display name."),
        _int("points", "Points the reward costs."),
        _BALANCE,
    ), alert=True),
    EventType("campaign.starting", "A campaign the member is eligible for is about to start.", (
        _str("campaign", "The campaign's key in the ruleset."),
        _str("name", "The campaign's display name."),
        _str("starts_at", "When it starts (ISO 8601 instant).", fmt="date-time"),
    ), alert=True),
    EventType("inventory.low_stock", "A reward's available stock fell to its low-stock threshold or below (once per crossing; a restock above it re-arms it). About the program, not a member: its member_id is empty and no message can be declared for it.", (
        _str("reward_id", "The catalog reward."),
        _int("available", "Units left to order after the change."),
        _int("reserved", "Units reserved by orders awaiting approval or fulfilment."),
        _int("threshold", "The reward's low-stock threshold."),
        _str("order_number", "The company order whose reservation crossed the threshold; null for other changes.", null=True),
        _str("actor", "Who changed the stock (a manager, an administrator's key, or jobs)."),
    ), member=False),
)

#: Every event type by name, in catalog order.
EVENT_TYPES: Mapping[str, EventType] = {t.name: t for t in _TYPES}


def payload_fields(type_: str) -> tuple[str, ...]:
    """The payload field names of an event type, in order (KeyError for an unknown type)."""
    return tuple(f.name for f in EVENT_TYPES[type_].fields)
