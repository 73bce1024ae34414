"""The shipped JSON Schemas: valid 2020-12, a description on every property, usable."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from schemas import SCHEMA_NAMES, load_schema
from schemas.bundle import BUNDLED, PREFIX, bundled

OWN = ["ruleset", "evaluation-request", "events"]
REQUEST = {
    "member": {"id": "CUST-12345", "tier": "gold", "points_balance": 2500,
               "attributes": {"segments": ["vip"], "birthday": "1990-11-17",
                              "enrolled_at": "2024-03-15", "favourite_colour": "green"},
               "state": {"orders_count": 3, "qualifying": {"spend": "1200.00", "orders": 3},
                         "cap_usage": {"seasonal_categories.2026-q4": "300.00"},
                         "campaign_usage": {"tier-up-challenge": 1},
                         "campaign_budget_used": {"double-points-weekend": 5000},
                         "challenge_spend": {"tier-up-challenge": "120.50"},
                         "reward_stock": {"REWARD-101": 12},
                         "activity_counts": {"product_review": 2}}},
    "order": {"id": "ORD-789012", "placed_at": "2026-11-17T14:30:00-05:00", "channel": "web",
              "currency": "USD", "shipping": "5.00", "tax": 3.5,
              "lines": [{"sku": "TV-55", "category": "electronics", "quantity": 1,
                         "unit_price": "499.99", "discount": "0.00"}]},
    "redeem": {"points": 1000},
    "explain": False,
    "context": {"campaign_source": "email"},
}


def properties(schema: Any, where: str = "$") -> Iterator[tuple[str, Any]]:
    """Every property subschema (and map value schema) in a schema, with where it is."""
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            yield f"{where}.{name}", sub
        if isinstance(schema.get("additionalProperties"), dict):
            yield f"{where}.*", schema["additionalProperties"]
        for key, sub in schema.items():
            if isinstance(sub, (dict, list)):
                yield from properties(sub, f"{where}/{key}")
    elif isinstance(schema, list):
        for i, sub in enumerate(schema):
            yield from properties(sub, f"{where}[{i}]")


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schema_is_valid_2020_12(name: str) -> None:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] and schema["title"]


@pytest.mark.parametrize("name", OWN)
def test_every_property_has_a_description(name: str) -> None:
    missing = [where for where, sub in properties(load_schema(name))
               if isinstance(sub, dict) and not sub.get("description")]
    assert missing == []


@pytest.mark.parametrize("name", OWN)
def test_objects_are_closed(name: str) -> None:
    def objects(schema: Any) -> Iterator[dict[str, Any]]:
        if isinstance(schema, dict):
            if "properties" in schema and schema.get("type") == "object":
                yield schema
            for sub in schema.values():
                yield from objects(sub)
        elif isinstance(schema, list):
            for sub in schema:
                yield from objects(sub)
    open_ = [sorted(o["properties"]) for o in objects(load_schema(name))
             if o.get("additionalProperties", True) is True]
    assert open_ == []


def test_load_schema_accepts_file_names_and_rejects_unknown() -> None:
    assert load_schema("ruleset.schema.json") == load_schema("ruleset")
    with pytest.raises(ValueError, match="unknown schema"):
        load_schema("nope")
    assert set(OWN) <= set(SCHEMA_NAMES)


def test_design_example_request_is_valid() -> None:
    validator = Draft202012Validator(load_schema("evaluation-request"))
    assert list(validator.iter_errors(REQUEST)) == []
    assert validator.is_valid({**REQUEST, "redeem": {"reward_id": "REWARD-001", "quantity": 1}})


@pytest.mark.parametrize("change", [
    {"redeem": {"points": 10, "reward_id": "X"}},
    {"redeem": {"quantity": 2}},
    {"order": {**REQUEST["order"], "placed_at": "2026-11-17T14:30:00"}},
    {"order": {**REQUEST["order"], "lines": [{"sku": "A", "quantity": 0, "unit_price": "1"}]}},
    {"order": {**REQUEST["order"], "shipping": "5,00"}},
    {"member": {**REQUEST["member"], "state": {"orders": 1}}},
    {"member": {"tier": "gold"}},
    {"surprise": True},
])
def test_bad_requests_are_rejected(change: dict[str, Any]) -> None:
    validator = Draft202012Validator(load_schema("evaluation-request"))
    assert not validator.is_valid({**REQUEST, **change})


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_request_definitions_are_current(name: str) -> None:
    """The event and test-suite schemas hold verbatim copies of the request's definitions
    (self-contained for editors); regenerate them with `python -m schemas.bundle`."""
    schema = load_schema(name)
    assert bundled(schema, load_schema("evaluation-request")) == schema
    assert any(key.startswith(PREFIX) for key in schema["$defs"])
    refs = re.findall(r'"\$ref": "([^"]*)"', json.dumps(schema))
    assert refs and all(ref.startswith("#/") for ref in refs)  # nothing outside the file
