"""How one version's bounds move against another's (`loyalty verify --compare`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.verify.bounds import Bound, Bounds, text


@dataclass(frozen=True)
class Movement:
    """One quantity (and campaign) in both versions. `change`: `up`, `down`, `same`,
    `new` (only in the new version), `gone` (only in the old one), `unbounded` (the new
    version has no bound where the old had one), `bounded` (the reverse)."""

    quantity: str
    subject: str | None
    old: Decimal | None
    new: Decimal | None
    change: str
    old_context: str | None
    new_context: str | None

    @property
    def label(self) -> str:
        return self.quantity + (f"[{self.subject}]" if self.subject else "")

    @property
    def delta(self) -> Decimal | None:
        return None if self.old is None or self.new is None else self.new - self.old

    def to_json(self) -> dict[str, Any]:
        def num(v: Decimal | None) -> str | None:
            return None if v is None else text(v)
        return {"quantity": self.quantity, "subject": self.subject, "old": num(self.old),
                "new": num(self.new), "delta": num(self.delta), "change": self.change,
                "old_context": self.old_context, "new_context": self.new_context}


def _change(old: Bound | None, new: Bound | None) -> str:
    if old is None:
        return "new"
    if new is None:
        return "gone"
    if old.value is None and new.value is None:
        return "same"
    if new.value is None:
        return "unbounded"
    if old.value is None:
        return "bounded"
    return "up" if new.value > old.value else "down" if new.value < old.value else "same"


def compare(old: Bounds, new: Bounds) -> list[Movement]:
    """Every bound of either version, in the new version's order, then those gone."""
    keys = [b.key for b in new.bounds] + [b.key for b in old.bounds
                                          if new.get(*b.key) is None]
    out = []
    for quantity, subject in keys:
        a, b = old.get(quantity, subject), new.get(quantity, subject)
        out.append(Movement(quantity, subject, a.value if a else None, b.value if b else None,
                            _change(a, b), a.context if a else None, b.context if b else None))
    return out
