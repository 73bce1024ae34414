"""The event catalog is the single source: the shipped schema is generated from it, and
an event built from it validates against that schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from engine.events import EVENT_TYPES, DomainEvent, payload_fields, payload_problems
from engine.events.docs import catalog_markdown
from engine.events.schema import schema_text
from schemas import load_schema

ROOT = Path(__file__).resolve().parents[2]

SAMPLES = {
    "points.earned": {"points": 120, "kind": "earn", "rule": "base", "source_type": "order",
                      "source_ref": "ORD-1", "expires_at": "2027-11-17T00:00:00+00:00",
                      "balance": 620},
    "points.reversed": {"points": -60, "rule": "base", "source_type": "refund",
                        "source_ref": "RF-1", "balance": 560},
    "points.redeemed": {"points": 500, "source_ref": "42", "balance": 60},
    "points.expired": {"points": 60, "balance": 0},
    "points.adjusted": {"points": 25, "source_ref": "ADJ-1", "reason": None, "balance": 25},
    "tier.changed": {"before": None, "after": "silver", "cause": "order", "direction": "up"},
    "milestone.reached": {"milestone": "tenth-order", "name": "Tenth order",
                          "reward": {"points": 500, "badge": None, "reward_id": None,
                                     "gift": None}},
    "redemption.created": {"redemption_id": "7", "reward_id": "REWARD-101", "quantity": 1,
                           "points": 500, "status": "completed"},
    "points.expiring": {"points": 300, "expires_at": "2027-01-01T05:00:00+00:00",
                        "days_left": 30},
    "tier.within_reach": {"tier": "silver", "next_tier": "gold", "missing_spend": "120.50",
                          "missing_orders": None},
    "reward.affordable": {"reward_id": "REWARD-101", "name": "Coffee", "points": 500,
                          "balance": 510},
    "campaign.starting": {"campaign": "double-weekend", "name": "Double weekend",
                          "starts_at": "2026-12-05T00:00:00+00:00"},
    "inventory.low_stock": {"reward_id": "PHYS-LAPTOP", "available": 2, "reserved": 3,
                            "threshold": 2, "order_number": "B2B-2026-000123",
                            "actor": "manager:alice"},
}
for _status in ("captured", "released", "cancelled", "fulfilled"):
    SAMPLES[f"redemption.{_status}"] = {**SAMPLES["redemption.created"], "status": _status}


def test_the_shipped_schema_is_generated_from_the_catalog() -> None:
    shipped = (ROOT / "schemas" / "events.schema.json").read_text(encoding="utf-8")
    assert shipped == schema_text(), "run: python -m engine.events.schema > schemas/events.schema.json"


def test_the_schema_has_one_definition_per_type_with_the_catalog_fields() -> None:
    schema = load_schema("events")
    Draft202012Validator.check_schema(schema)
    assert list(schema["$defs"]) == list(EVENT_TYPES)
    for name, definition in schema["$defs"].items():
        payload = definition["properties"]["payload"]
        assert list(payload["properties"]) == list(payload_fields(name))
        assert payload["required"] == list(payload_fields(name))
        assert definition["properties"]["type"]["const"] == name


def test_every_type_has_a_sample_and_every_sample_validates() -> None:
    assert set(SAMPLES) == set(EVENT_TYPES)
    validator = Draft202012Validator(load_schema("events"), format_checker=FormatChecker())
    at = datetime(2026, 11, 17, 14, 30, tzinfo=timezone(timedelta(hours=-5)))
    for name, payload in SAMPLES.items():
        event = DomainEvent.new(name, "retail", "CUST-1", at, 3, payload)
        assert event.id == "" and event.at.tzinfo is UTC
        event.id = "0b6c3a6e-8f0e-4c55-9a39-6d7d3e2b8a11"
        document = json.loads(json.dumps(event.to_json()))
        assert document["at"] == "2026-11-17T19:30:00+00:00"
        assert list(validator.iter_errors(document)) == [], name


@pytest.mark.parametrize(("payload", "problem"), [
    ({**SAMPLES["points.expired"], "extra": 1}, "payload.extra: not a field of this type"),
    ({"points": 60}, "payload.balance: missing"),
    ({"points": "60", "balance": 0}, "payload.points: must be integer"),
    ({"points": True, "balance": 0}, "payload.points: must be integer"),
])
def test_a_wrong_payload_is_named(payload: dict[str, object], problem: str) -> None:
    assert problem in payload_problems("points.expired", payload)
    with pytest.raises(ValueError, match=r"points\.expired event"):
        DomainEvent.new("points.expired", "retail", "CUST-1", datetime.now(UTC), 1, payload)


def test_nested_enum_and_unknown_type_are_checked() -> None:
    assert payload_problems("nope", {}) == ["unknown event type 'nope'"]
    bad = {**SAMPLES["milestone.reached"], "reward": {"points": "x", "badge": None}}
    assert payload_problems("milestone.reached", bad) == [
        "payload.reward.points: must be integer or null", "payload.reward.reward_id: missing",
        "payload.reward.gift: missing"]
    gift = {"points": None, "badge": None, "reward_id": "REWARD-002", "gift": "lost"}
    assert payload_problems("milestone.reached", {**bad, "reward": gift}) == [
        "payload.reward.gift: must be one of issued, out_of_stock"]
    for given in ("issued", "out_of_stock"):
        assert not payload_problems("milestone.reached",
                                    {**bad, "reward": {**gift, "gift": given}})
    assert payload_problems("tier.changed", {**SAMPLES["tier.changed"], "direction": "left"}) \
        == ["payload.direction: must be one of up, down, same"]
    schema = load_schema("events")
    assert not Draft202012Validator(schema).is_valid(
        {"id": "x", "type": "tier.changed", "program": "p", "member_id": "m",
         "at": "2026-01-01T00:00:00+00:00", "ruleset_version": 1,
         "payload": {**SAMPLES["tier.changed"], "direction": "left"}})


def test_the_docs_list_every_type_as_the_catalog_says() -> None:
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    block = text.split("<!-- catalog:start -->\n", 1)[1].split("\n<!-- catalog:end -->", 1)[0]
    assert block == catalog_markdown(), "run: python -m engine.events.docs (into docs/events.md)"
    for name in EVENT_TYPES:
        assert f"### `{name}`" in block
