"""Read a rule test suite file the way rulesets are read, and check it before it runs.

A suite is parsed by the ruleset's YAML reader (engine/language/loader.py: safe, exact
decimals, dates and instants kept as written, every node's position), checked against
`schemas/test-suite.schema.json` with every error collected and worded as ruleset errors
are (engine/language/schema_check.py), then checked against the program under test where
that is cheap: fixture names, tier, campaign, rotation, activity and rule ids the
expectations name, case names used twice. Every problem is a located
:class:`~engine.errors.RulesetError` (``file:line:col: $.path: message (hint: …)``); the
schema's and the program's are collected together, so one run reports them all.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import RulesetError
from engine.language.loader import LoadedRuleset, load_path
from engine.language.model import Ruleset
from engine.language.schema_check import did_you_mean, located, schema_errors

__all__ = ["SuiteFile", "read_suite", "rule_ids", "suite_errors"]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class SuiteFile:
    """A parsed suite file: its data and positions, the ruleset it tests (None when the
    file names one that does not exist) and what its schema found wrong."""

    path: Path
    loaded: LoadedRuleset
    target: Path | None  # the ruleset file or folder under test, resolved
    errors: tuple[RulesetError, ...]

    @property
    def doc(self) -> dict[str, Any]:
        return self.loaded.data


def read_suite(path: Path) -> SuiteFile:
    """Parse one suite file and check it against its schema, collecting every problem;
    a file that cannot be parsed at all raises :class:`RulesetInvalid`."""
    loaded = load_path(path)
    errors = schema_errors(loaded, "test-suite")
    ruleset = loaded.data.get("ruleset")
    target: Path | None = (path.parent / ruleset) if isinstance(ruleset, str) \
        else path.parent.parent
    if isinstance(ruleset, str) and not (path.parent / ruleset).exists():
        errors.append(located(loaded, ("ruleset",), f"no ruleset file or folder '{ruleset}' "
                              f"next to this suite", "The path is relative to the suite "
                              "file; omit `ruleset` to test the folder holding tests/."))
        target = None
    return SuiteFile(path, loaded, target.resolve() if target else None, tuple(errors))


def rule_ids(model: Ruleset) -> list[str]:
    """The rule ids that can earn an order points (what `expect.by_rule` may name)."""
    ids = ["earning.base", *(f"earning.categories.{c}" for c in model.earning.categories)]
    ids += [f"tiers.{t.id}" for t in (model.tiers.levels if model.tiers else ())]
    ids += [r.rule_id for r in model.rotations]
    ids += [c.rule_id for c in model.campaigns]
    ids += [r.rule_id for r in model.rules]
    return ids


def suite_errors(suite: SuiteFile, model: Ruleset) -> list[RulesetError]:
    """What the suite names that the program under test does not have, sorted."""
    return sorted(set(_Checks(suite.loaded, model).run()))


class _Checks:
    def __init__(self, loaded: LoadedRuleset, model: Ruleset) -> None:
        self.loaded, self.doc = loaded, loaded.data
        fixtures = _map(self.doc.get("fixtures"))
        self.member_fixtures = _map(fixtures.get("members"))
        self.members = list(self.member_fixtures)
        self.carts = list(_map(fixtures.get("carts")))
        self.tiers = [t.id for t in (model.tiers.levels if model.tiers else ())]
        self.campaigns = [c.id for c in model.campaigns]
        self.caps = [r.rule_id for r in model.rotations]
        self.activities = list(model.earning.activities)
        self.rules = rule_ids(model)
        self.errors: list[RulesetError] = []

    def run(self) -> list[RulesetError]:
        for name, member in self.member_fixtures.items():
            self.member(("fixtures", "members", name), member)
        for section in ("cases", "scenarios"):
            self.names(section)
            for i, item in _items(self.doc.get(section)):
                base: Path_ = (section, i)
                self.member_ref((*base, "member"), item.get("member"))
                self.cart_ref((*base, "cart"), item.get("cart"))
                for k, event in _items(item.get("events")):
                    self.cart_ref((*base, "events", k, "cart"), event.get("cart"))
                self.expect((*base, "expect"), _map(item.get("expect")))
        return self.errors

    def unknown(self, path: Path_, value: Any, known: list[str], what: str, where: str,
                key: bool = False) -> None:
        if not isinstance(value, str) or value in known:
            return
        hint = did_you_mean(value, known, f"Known {what}s: ") if known else \
            f"No {what}s are defined {where}."
        self.errors.append(located(self.loaded, path, f"unknown {what} '{value}'", hint, key))

    def names(self, section: str) -> None:
        seen: dict[str, int] = {}
        for i, item in _items(self.doc.get(section)):
            name = item.get("name")
            if isinstance(name, str) and name in seen:
                line = self.loaded.position((section, seen[name], "name"))[1]
                self.errors.append(located(
                    self.loaded, (section, i, "name"), f"duplicate name '{name}'",
                    f"{section}[{seen[name]}] (line {line}) has it already; names identify "
                    "results in reports, so each must be unique."))
            elif isinstance(name, str):
                seen[name] = i

    def member(self, path: Path_, member: Any) -> None:
        if isinstance(member, Mapping):
            self.unknown((*path, "tier"), member.get("tier"), self.tiers, "tier",
                         "in the ruleset under test")

    def member_ref(self, path: Path_, ref: Any) -> None:
        if isinstance(ref, str):
            self.unknown(path, ref, self.members, "member fixture", "in this suite")
        else:
            self.member(path, ref)

    def cart_ref(self, path: Path_, ref: Any) -> None:
        self.unknown(path, ref, self.carts, "cart fixture", "in this suite")

    def expect(self, path: Path_, expect: Mapping[str, Any]) -> None:
        program = "in the ruleset under test"
        for key, value in self.keyed(path, expect, "by_rule"):
            self.unknown(key, value, self.rules, "rule id", program, key=True)
        for key, value in self.keyed(path, expect, "campaign_points"):
            self.unknown(key, value, self.campaigns, "campaign", program, key=True)
        for key, value in self.keyed(path, expect, "campaign_usage"):
            self.unknown(key, value, self.campaigns, "campaign", program, key=True)
        for key, value in self.keyed(path, expect, "cap_usage"):
            self.unknown(key, value, self.caps, "cap rule", program, key=True)
        for key, value in self.keyed(path, expect, "activities"):
            self.unknown(key, value, self.activities, "activity", program, key=True)
        campaigns = expect.get("campaigns")
        for j, campaign in enumerate(campaigns if isinstance(campaigns, list) else []):
            self.unknown((*path, "campaigns", j), campaign, self.campaigns, "campaign", program)
        for field in ("tier_after", "tier"):
            self.unknown((*path, field), expect.get(field), self.tiers, "tier", program)
        upgrade = _map(expect.get("upgrade"))
        for field in ("from", "to"):
            self.unknown((*path, "upgrade", field), upgrade.get(field), self.tiers, "tier",
                         program)

    @staticmethod
    def keyed(path: Path_, expect: Mapping[str, Any], name: str) -> Iterator[tuple[Path_, str]]:
        for key in _map(expect.get(name)):
            yield (*path, name, key), key


def _map(value: Any) -> Mapping[str, Any]:
    """``value`` if it is a mapping, else an empty one (its shape is the schema's business)."""
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[tuple[int, Mapping[str, Any]]]:
    """The mappings in a list, with their indexes."""
    return [(i, v) for i, v in enumerate(value) if isinstance(v, Mapping)] \
        if isinstance(value, list) else []
