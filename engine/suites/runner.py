"""Rule test suites: YAML files of fixtures, cases and scenarios checked against a ruleset.

A case is one evaluation (docs/semantics.md) with a frozen time; only the expectations listed are
compared. A scenario replays a member's events with full state, exactly as the simulator
does (engine/simulation/replay.py, through the lifecycle core), and then checks the member's book. Every failure carries the
expected and the actual value, and a failing case carries its explain trace.

Suite files are read and checked first (engine/suites/suite_file.py); a suite with
problems, or an invalid ruleset under test, raises RulesetInvalid with every located
problem of every file, and nothing runs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from engine.errors import RulesetInvalid
from engine.evaluation.evaluate import RequestInvalid, evaluate
from engine.program import Program, load_program
from engine.simulation.history import InvalidEvent, check_event
from engine.simulation.partition import LocalPool
from engine.simulation.replay import Reject, Replay
from engine.simulation.stats import Stats, engagement
from engine.suites.suite_file import SuiteFile, read_suite, suite_errors

SUFFIX = "_test.yaml"


@dataclass
class Failure:
    field: str
    expected: Any
    actual: Any


@dataclass
class CaseResult:
    name: str
    kind: str  # case | scenario | suite
    failures: list[Failure] = field(default_factory=list)
    error: str | None = None
    trace: list[Any] | None = None

    @property
    def passed(self) -> bool:
        return not self.failures and self.error is None


@dataclass
class SuiteResult:
    file: str
    suite: str
    program: str | None
    results: list[CaseResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed


def discover(paths: list[str | Path]) -> list[Path]:
    """Suite files under `paths` (files, tests/ folders or ruleset folders); sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found.append(path)
        elif (path / "tests").is_dir():
            found.extend(sorted((path / "tests").glob("*" + SUFFIX)))
        elif path.is_dir() and any(path.glob("*" + SUFFIX)):
            found.extend(sorted(path.glob("*" + SUFFIX)))
        elif path.is_dir():
            found.extend(sorted(path.glob("*/tests/*" + SUFFIX)))
    return sorted(dict.fromkeys(found))


def _program(target: Path, programs: dict[Path, Program | RulesetInvalid]) -> Program:
    """The program under test, loaded once per ruleset (an invalid one raises each time)."""
    if target not in programs:
        try:
            programs[target] = load_program(target)
        except RulesetInvalid as exc:
            programs[target] = exc
    found = programs[target]
    if isinstance(found, RulesetInvalid):
        raise found
    return found


def _checked(path: Path, programs: dict[Path, Program | RulesetInvalid]
             ) -> tuple[SuiteFile, Program]:
    """The suite file and its program, or RulesetInvalid with every problem of both."""
    suite = read_suite(path)
    errors = list(suite.errors)
    if suite.target is None:
        raise RulesetInvalid(errors)
    try:
        program = _program(suite.target, programs)
    except RulesetInvalid as exc:
        raise RulesetInvalid([*errors, *exc.errors]) from None
    errors.extend(suite_errors(suite, program.model))
    if errors:
        raise RulesetInvalid(errors)
    return suite, program


def run_file(path: Path, programs: dict[Path, Program | RulesetInvalid] | None = None
             ) -> SuiteResult:
    """Run one suite file. A malformed suite, or an invalid ruleset under test, raises
    RulesetInvalid with every located problem (exit code 3)."""
    suite, program = _checked(path, programs if programs is not None else {})
    return _run(suite, program)


def run_paths(paths: list[str | Path]) -> list[SuiteResult]:
    """Run every suite under ``paths``; every suite file and ruleset is checked first, and
    if any has problems RulesetInvalid holds all of them and nothing runs."""
    programs: dict[Path, Program | RulesetInvalid] = {}
    ready, errors = [], []
    for path in discover(paths):
        try:
            ready.append(_checked(path, programs))
        except RulesetInvalid as exc:
            errors.extend(exc.errors)
    if errors:
        raise RulesetInvalid(errors)
    return [_run(suite, program) for suite, program in ready]


def _run(suite_file: SuiteFile, program: Program) -> SuiteResult:
    doc = suite_file.doc
    suite = Suite(doc, program)
    result = SuiteResult(str(suite_file.path), doc["suite"], program.program)
    for case in doc.get("cases", []):
        result.results.append(suite.run_case(case))
    for scenario in doc.get("scenarios", []):
        result.results.append(suite.run_scenario(scenario))
    return result


class Suite:
    def __init__(self, doc: dict[str, Any], program: Program) -> None:
        self.doc, self.program = doc, program
        fixtures = doc.get("fixtures") or {}
        self.members = fixtures.get("members") or {}
        self.carts = fixtures.get("carts") or {}
        self.now = doc.get("now")

    def member(self, ref: Any, default_id: str) -> dict[str, Any]:
        if ref is None:
            return {"id": default_id}
        if isinstance(ref, str):
            if ref not in self.members:
                raise KeyError(f"no member fixture {ref!r}")
            data = copy.deepcopy(self.members[ref])
            data.setdefault("id", ref)
            return data
        data = copy.deepcopy(ref)
        data.setdefault("id", default_id)
        return data

    def cart(self, ref: Any, order_id: str, at: str | None) -> dict[str, Any]:
        if isinstance(ref, str):
            if ref not in self.carts:
                raise KeyError(f"no cart fixture {ref!r}")
            ref = self.carts[ref]
        order = copy.deepcopy(ref)
        order.setdefault("id", order_id)
        if at is not None:
            order["placed_at"] = at
        elif "placed_at" not in order and self.now:
            order["placed_at"] = self.now
        return order

    # ------------------------------------------------------------ cases
    def run_case(self, case: dict[str, Any]) -> CaseResult:
        name = case["name"]
        out = CaseResult(name, "case")
        request: dict[str, Any] = {"member": self.member(case.get("member"), "TEST-MEMBER"),
                                   "explain": True}
        try:
            if case.get("cart") is not None:
                request["order"] = self.cart(case["cart"], name, case.get("at"))
            else:
                request["as_of"] = case.get("at") or self.now
            for key in ("redeem", "context"):
                if key in case:
                    request[key] = case[key]
            result = evaluate(self.program, request)
        except (KeyError, RequestInvalid) as exc:
            out.error = f"{type(exc).__name__}: {exc}"
            return out
        out.failures = check_case(case["expect"], result)
        if out.failures:
            out.trace = result.get("trace")
        return out

    # ------------------------------------------------------------ scenarios
    def run_scenario(self, scenario: dict[str, Any]) -> CaseResult:
        out = CaseResult(scenario["name"], "scenario")
        stats = Stats()
        replay = Replay(self.program, LocalPool(self.program), stats)
        member = self.member(scenario.get("member"), "TEST-MEMBER")
        first = scenario["events"][0]["at"]
        enrolled = scenario.get("enrolled_at") or self.now or first
        if datetime.fromisoformat(first) < datetime.fromisoformat(enrolled):
            enrolled = first  # a member cannot order before enrolling
        enroll = {"type": "enroll", "member_id": member["id"], "at": enrolled,
                  "attributes": member.get("attributes") or {}}
        if member.get("tier"):
            enroll["tier"] = member["tier"]
        try:
            events = [enroll] + [self.event(member["id"], i, e)
                                 for i, e in enumerate(scenario["events"], start=1)]
            for line, data in enumerate(events, start=1):
                try:
                    replay.handle(check_event(data, line))
                except (Reject, InvalidEvent) as exc:
                    stats.reject(line, str(exc))
        except KeyError as exc:
            out.error = f"KeyError: {exc}"
            return out
        mem = replay.members[member["id"]]
        if scenario.get("as_of"):
            at = datetime.fromisoformat(scenario["as_of"])
            replay.apply(mem, replay.lc.advance(mem.book, at), at)
        expect = scenario["expect"]
        if "rejected" not in expect and stats.rejected:  # unexpected: say so, don't pass
            expect = {**expect, "rejected": 0}
        out.failures = check_scenario(expect, replay, mem)
        if out.failures and stats.errors:
            out.trace = [{"line": line, "rejected": msg} for line, msg in stats.errors]
        return out

    def event(self, member_id: str, index: int, raw: dict[str, Any]) -> dict[str, Any]:
        data = {k: v for k, v in raw.items() if k != "cart"}
        data["member_id"] = member_id
        if raw["type"] == "order":
            data["order"] = self.cart(raw.get("cart"), raw.get("order_id") or f"order-{index}",
                                      raw["at"])
            data.pop("order_id", None)
        return data


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            _subset(e, a) for e, a in zip(expected, actual))
    return _same(expected, actual)


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, (int, float, str, Decimal)) \
            and isinstance(actual, (int, float, str, Decimal)) \
            and not isinstance(expected, bool) and not isinstance(actual, bool):
        try:
            return Decimal(str(expected)) == Decimal(str(actual))
        except ArithmeticError:
            return expected == actual
    return bool(expected == actual)


def check_case(expect: dict[str, Any], result: dict[str, Any]) -> list[Failure]:
    out: list[Failure] = []

    def check(name: str, expected: Any, actual: Any, ok: bool | None = None) -> None:
        if not (ok if ok is not None else _same(expected, actual)):
            out.append(Failure(name, expected, actual))

    earn = result["earn"]
    if "points" in expect:
        check("points", expect["points"], earn["points"])
    for rule, pts in (expect.get("by_rule") or {}).items():
        check(f"by_rule.{rule}", pts, earn["by_rule"].get(rule, 0))
    if "tier_after" in expect:
        check("tier_after", expect["tier_after"], result["tier_after"])
    if "upgrade" in expect:
        up = expect["upgrade"]
        check("upgrade", up, result["upgrade"],
              result["upgrade"] is None if up is None else _subset(up, result["upgrade"]))
    applied = sorted(c["id"] for c in result["campaigns"])
    if "campaigns" in expect:
        check("campaigns", sorted(expect["campaigns"]), applied)
    points_by_campaign = {c["id"]: c["points"] for c in result["campaigns"]}
    for cid, pts in (expect.get("campaign_points") or {}).items():
        check(f"campaign_points.{cid}", pts, points_by_campaign.get(cid, 0))
    if "activities" in expect:
        check("activities", expect["activities"],
              {a["activity"]: a["points"] for a in result["activities"]})
    for key, value in (expect.get("benefits") or {}).items():
        check(f"benefits.{key}", value, result["benefits"].get(key))
    if "cashback" in expect:
        check("cashback", expect["cashback"], earn["cashback"])
    red = expect.get("redemption") or {}
    for key in ("eligible", "max_points", "value"):
        if key in red:
            check(f"redemption.{key}", red[key], result["redemption"].get(key))
    if "reasons" in red:
        check("redemption.reasons", sorted(red["reasons"]),
              sorted(r["code"] for r in result["redemption"]["reasons"]))
    for wanted in expect.get("effects") or []:
        if not any(_subset(wanted, e) for e in result["effects"]):
            out.append(Failure("effects", wanted, result["effects"]))
    for unwanted in expect.get("no_effects") or []:
        hits = [e for e in result["effects"] if _subset(unwanted, e)]
        if hits:
            out.append(Failure("no_effects", f"no effect like {unwanted}", hits))
    return out


def check_scenario(expect: dict[str, Any], replay: Replay, mem: Any) -> list[Failure]:
    book, stats = mem.book, replay.stats
    actual: dict[str, Any] = {
        "balance": book.balance, "tier": book.tier or replay.tier_ids[0],
        "points_issued": stats.issued, "points_redeemed": stats.redeemed,
        "points_expired": stats.expired, "points_reversed": stats.reversed,
        "rejected": stats.rejected,
        "campaign_usage": {cid: used[0] for cid, used in book.campaigns.items()},
        "redemptions": dict(stats.redemptions),
        "cap_usage": {rule: spend for rule, (_, spend) in book.caps.items()},
        "milestones": list(book.progress.milestones) if book.progress else [],
        "badges": list(book.progress.badges) if book.progress else [],
        "milestone_points": sum(stats.milestone_points.values()),
        "messages": engagement(stats, (), Decimal(0))["messages"],
        "messages_suppressed": dict(stats.suppressed),
    }
    out = []
    for key, expected in expect.items():
        value = actual[key]
        if isinstance(expected, dict):
            for sub, want in expected.items():
                got = value.get(sub, 0)
                if not _same(want, got):
                    out.append(Failure(f"{key}.{sub}", want, str(got) if isinstance(got, Decimal)
                                       else got))
        elif not _same(expected, value):
            out.append(Failure(key, expected, value))
    return out


__all__ = ["CaseResult", "Failure", "RulesetInvalid", "SuiteResult", "discover", "run_file",
           "run_paths"]
