"""What `prove` returns: one Bound per quantity (per campaign for the daily points), and
`compare` of two versions' bounds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

QUANTITIES: Mapping[str, str] = {
    "max_points_per_unit": "points per 1.00 of eligible spend on a line (before rounding)",
    "max_bonus_points_per_order": "bonus points one order collects (campaign bonuses and "
                                  "tier upgrade bonuses)",
    "max_value_back": "value given back per 1.00 of eligible spend on a line (points × "
                      "redemption rate + cashback)",
    "max_campaign_points_per_day": "extra points one campaign gives in a day, all members",
}


@dataclass(frozen=True)
class Bound:
    """The worst case of one quantity (for `max_campaign_points_per_day`, of one campaign:
    `subject`). `value` None: no bound exists (`context` says why). `witness`: the
    evaluation requests that reach it (one, or the first and the last of `orders` alike),
    and `reproduced`: what the evaluator gave on them."""

    quantity: str
    value: Decimal | None
    context: str
    witness: tuple[Mapping[str, Any], ...] = ()
    reproduced: Decimal | None = None
    subject: str | None = None
    orders: int = 1

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.quantity, self.subject)

    @property
    def label(self) -> str:
        return self.quantity + (f"[{self.subject}]" if self.subject else "")

    def to_json(self) -> dict[str, Any]:
        return {"quantity": self.quantity, "subject": self.subject,
                "value": None if self.value is None else text(self.value),
                "meaning": QUANTITIES[self.quantity], "context": self.context,
                "witness": list(self.witness), "orders": self.orders,
                "reproduced": None if self.reproduced is None else text(self.reproduced)}


@dataclass(frozen=True)
class Bounds:
    program: str
    version: int
    bounds: tuple[Bound, ...]
    day_classes: int = 0
    contexts: int = 0
    limits: Mapping[str, Decimal] = field(default_factory=dict)

    def get(self, quantity: str, subject: str | None = None) -> Bound | None:
        return next((b for b in self.bounds if b.key == (quantity, subject)), None)

    def of(self, quantity: str) -> list[Bound]:
        return [b for b in self.bounds if b.quantity == quantity]

    def to_json(self) -> dict[str, Any]:
        return {"program": self.program, "version": self.version,
                "day_classes": self.day_classes, "contexts": self.contexts,
                "invariants": {k: text(v) for k, v in self.limits.items()},
                "bounds": [b.to_json() for b in self.bounds]}


def text(value: Decimal) -> str:
    """A decimal without trailing zeros or an exponent: 8, 0.105."""
    return f"{value.normalize():f}"
