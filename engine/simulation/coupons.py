"""Coupon codes in a simulation: the codes a program has (read from the CSV that
`loyalty codes generate` writes: `code,campaign,uses`), and their uses as the replay's
orders take them and full refunds give them back — the pool's side of the lifecycle's
`CodeMove`s, as the store's `coupon_codes` table is the service's."""

from __future__ import annotations

import csv
from pathlib import Path

import engine.evaluation.contract as contract
from engine.lifecycle.campaigns import code_refusal, coded_campaigns
from engine.program import Program

__all__ = ["Coupons", "CouponsInvalid"]


class CouponsInvalid(ValueError):
    """A codes file that cannot be read: the message names the line."""


class Coupons:
    def __init__(self, program: Program) -> None:
        self.coded = coded_campaigns(program.model.campaigns)
        self.codes: dict[str, list] = {}  # code → [campaign, uses, used]

    @classmethod
    def read(cls, program: Program, path: str | Path) -> Coupons:
        """The codes of a `code,campaign,uses` CSV (a header line first)."""
        found = cls(program)
        with open(path, encoding="utf-8", newline="") as stream:
            reader = csv.DictReader(stream)
            missing = {"code", "campaign", "uses"} - set(reader.fieldnames or ())
            if missing:
                raise CouponsInvalid(f"{path}:1: the header lacks {', '.join(sorted(missing))}")
            for row in reader:
                try:
                    code = contract.code(row["code"])
                    uses = contract.whole(int(row["uses"] or "x"), 1, contract.POINTS_LIMIT)
                    campaign = contract.identifier(row["campaign"])
                except (ValueError, TypeError) as exc:
                    raise CouponsInvalid(f"{path}:{reader.line_num}: {exc}") from None
                found.codes[code] = [campaign, uses, 0]
        return found

    def resolve(self, presented: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
        """As the store's `resolve`: valid codes (a use left) → campaign; others → why."""
        valid, refused = {}, {}
        for code in presented:
            held = self.codes.get(code)
            if held is None:
                refused[code] = "unknown"
            elif why := code_refusal(self.coded, held[0], used=held[2], uses=held[1]):
                refused[code] = why
            else:
                valid[code] = held[0]
        return valid, refused

    def move(self, code: str, uses: int) -> None:
        held = self.codes[code]
        held[2] = max(0, held[2] + uses)
