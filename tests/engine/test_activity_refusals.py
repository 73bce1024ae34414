"""An activity's refusals are compiled rules (engine/rules/questions.py
`activity_refusal_rules`): the group holds one rule per reason, registered with the rule
engine and shared by every program with the same limited activities; its answer equals a
plain Python statement of each rule over drawn facts (through the decision cache); the
first reason reported equals the checks as they were written in Python before they were
compiled, over drawn referral graphs, birthdays, days and uses; and the lifecycle reports
every code with its message, pointer and 409/422 kind, and keeps the decision. With an
order, the same rules decide the first-purchase bonus, and the evaluation follows and
records their answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.lifecycle.policies as policies
from engine.language.model import Limit
from engine.lifecycle import ActivityRefused, Lifecycle, record_activity
from engine.rules.questions import (
    ACTIVITY,
    ALONE,
    BIRTHDAY_IS_DATE,
    BIRTHDAY_ON_RECORD,
    CLOSES_CIRCLE,
    FIRST_ORDER,
    FRIEND_IS_REFERRER,
    FRIEND_NAMED,
    FRIEND_REFERRED,
    IN_BIRTHDAY_MONTH,
    OFFERED,
    USES_LEFT,
    activity_facts,
    activity_refusal_group,
)

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
LIMITED = ("birthday", "product_review", "referral")
NAMES = ("referral", "birthday", "product_review", "first_purchase", "social_share", "newsletter")
REFERRAL_IDS = ("friend", "self", "once", "circle")


# ------------------------------------------------------------------ the compiled group

def test_one_compiled_rule_per_reason_shared_by_equal_parts(retail, variant):
    questions = activity_refusal_group(LIMITED)
    assert [(r.id, r.code) for r in questions.reasons] == [
        ("earning.activities.referral.friend", "friend_required"),
        ("earning.activities.referral.self", "self_referral"),
        ("earning.activities.referral.once", "already_referred"),
        ("earning.activities.referral.circle", "circular_referral"),
        ("earning.activities.with_order", "activity_not_offered"),
        ("earning.activities.offered", "activity_not_offered"),
        ("earning.activities.first_purchase.first_order", "not_first_order"),
        ("earning.activities.birthday.on_record", "birthday_unknown"),
        ("earning.activities.birthday.date", "birthday_unknown"),
        ("earning.activities.birthday.month", "not_birthday_month"),
        ("earning.activities.birthday.limit", "activity_limit_reached"),
        ("earning.activities.product_review.limit", "activity_limit_reached"),
        ("earning.activities.referral.limit", "activity_limit_reached")]
    group = questions.group
    assert [r.id for r in group.rules] == [r.id for r in questions.reasons]
    assert group.chunks  # registered with durable-rules
    assert activity_refusal_group(LIMITED) is questions  # compiled once per part
    # every retail activity has a limit; a variant that changes only the points shares
    # the group, one that drops a limit does not
    def more_points(data: dict[str, Any]) -> None:
        data["earning"]["activities"]["product_review"]["points"] = 30

    def no_review_limit(data: dict[str, Any]) -> None:
        del data["earning"]["activities"]["product_review"]["limit"]
    assert variant(more_points).questions.refusals is retail.questions.refusals
    fewer = variant(no_review_limit).questions.refusals
    assert fewer is not retail.questions.refusals
    assert "earning.activities.product_review.limit" not in {r.id for r in fewer.reasons}


def test_the_groups_answer_on_crafted_facts():
    questions = activity_refusal_group(LIMITED)
    group = questions.group
    referral = {ACTIVITY: "referral", OFFERED: 1, USES_LEFT: -1, FRIEND_NAMED: 1,
                FRIEND_IS_REFERRER: 0, FRIEND_REFERRED: 1, CLOSES_CIRCLE: 1}
    fired = group.decide(referral)
    assert fired == {"earning.activities.referral.once", "earning.activities.referral.circle",
                     "earning.activities.referral.limit"}
    assert questions.first(fired).code == "already_referred"
    # other values with the same codes (both below the limit): a cache hit, the same answer
    key = group.encoding.key({**referral, USES_LEFT: -4})
    assert key in group.cache and group.decide({**referral, USES_LEFT: -4}) == fired
    birthday = {ACTIVITY: "birthday", OFFERED: 1, USES_LEFT: 1, BIRTHDAY_ON_RECORD: 1,
                BIRTHDAY_IS_DATE: 1, IN_BIRTHDAY_MONTH: 0}
    assert group.decide(birthday) == {"earning.activities.birthday.month"}
    assert group.decide({**birthday, IN_BIRTHDAY_MONTH: 1}) == frozenset()
    assert group.decide({ACTIVITY: "first_purchase", OFFERED: 1, ALONE: 1}) == {
        "earning.activities.with_order"}
    # asked with an order (the evaluation's first-purchase bonus): the member's first order
    with_order = {ACTIVITY: "first_purchase", OFFERED: 1, ALONE: 0, FIRST_ORDER: 1}
    assert group.decide(with_order) == frozenset()
    assert group.decide({**with_order, FIRST_ORDER: 0}) == {
        "earning.activities.first_purchase.first_order"}
    assert group.decide({ACTIVITY: "newsletter", OFFERED: 0}) == {"earning.activities.offered"}
    # a field that does not apply is absent, and no rule on it holds
    assert group.decide({ACTIVITY: "referral"}) == frozenset()


# ------------------------------------------------------------------ rules = plain predicates

def plain_rules(fact: dict[str, Any]) -> set[str]:
    """Each refusal rule stated in Python: a flag holds only when present and equal."""
    name = fact.get(ACTIVITY)
    out = set()
    if name == "referral":
        for rid, field, value in zip(REFERRAL_IDS, (FRIEND_NAMED, FRIEND_IS_REFERRER,
                                                    FRIEND_REFERRED, CLOSES_CIRCLE), (0, 1, 1, 1)):
            if fact.get(field) == value:
                out.add(f"earning.activities.referral.{rid}")
    if name == "first_purchase" and fact.get(ALONE) == 1:
        out.add("earning.activities.with_order")
    if name == "first_purchase" and fact.get(FIRST_ORDER) == 0:
        out.add("earning.activities.first_purchase.first_order")
    if fact.get(OFFERED) == 0:
        out.add("earning.activities.offered")
    if name == "birthday":
        for rid, field in (("on_record", BIRTHDAY_ON_RECORD), ("date", BIRTHDAY_IS_DATE),
                           ("month", IN_BIRTHDAY_MONTH)):
            if fact.get(field) == 0:
                out.add(f"earning.activities.birthday.{rid}")
    left = fact.get(USES_LEFT)
    if name in LIMITED and left is not None and left <= 0:
        out.add(f"earning.activities.{name}.limit")
    return out


flags = st.one_of(st.none(), st.integers(0, 1), st.sampled_from([2, -1]))
facts = st.fixed_dictionaries({ACTIVITY: st.one_of(st.none(), st.sampled_from(NAMES))}, optional={
    OFFERED: flags, ALONE: flags, FIRST_ORDER: flags,
    USES_LEFT: st.one_of(st.none(), st.integers(-3, 12)),
    FRIEND_NAMED: flags, FRIEND_IS_REFERRER: flags, FRIEND_REFERRED: flags,
    CLOSES_CIRCLE: flags, BIRTHDAY_ON_RECORD: flags, BIRTHDAY_IS_DATE: flags,
    IN_BIRTHDAY_MONTH: flags})


@SETTINGS
@given(fact=facts)
def test_the_rules_answer_is_the_plain_predicate(fact):
    questions = activity_refusal_group(LIMITED)
    fired = questions.group.decide(fact)
    assert fired == plain_rules(fact)
    first = questions.first(fired)
    assert (first.id if first else None) == next(
        (r.id for r in questions.reasons if r.id in plain_rules(fact)), None)


# ------------------------------------------------------------------ = the checks as written

def written_refusal(name: str, offered: bool, limit: Limit | None, used: int, referrer: str,
                    friend: str | None, referrer_of: Callable[[str], str | None],
                    birthday: Any, day: date) -> str | None:
    """The refusal code of an activity, as the checks were written in Python before
    they were compiled (engine/lifecycle/activities.py `_check` and policies.py)."""
    if name == "referral":
        if not friend:
            return "friend_required"
        if friend == referrer:
            return "self_referral"
        if referrer_of(friend) is not None:
            return "already_referred"
        seen, up = {referrer}, referrer_of(referrer)
        while up is not None and up not in seen:
            if up == friend:
                return "circular_referral"
            seen.add(up)
            up = referrer_of(up)
    if not offered or name == "first_purchase":
        return "activity_not_offered"
    if name == "birthday":
        if birthday is None or birthday == "":
            return "birthday_unknown"
        try:
            month = date.fromisoformat(str(birthday)).month
        except ValueError:
            return "birthday_unknown"
        if month != day.month:
            return "not_birthday_month"
    if limit is not None and used >= limit.count:
        return "activity_limit_reached"
    return None


MEMBERS = st.sampled_from("ABCDE")


@SETTINGS
@given(name=st.sampled_from(NAMES), offered=st.booleans(), limited=st.booleans(),
       count=st.integers(1, 3), used=st.integers(0, 4), referrer=MEMBERS,
       friend=st.one_of(st.none(), st.just(""), MEMBERS),
       graph=st.dictionaries(MEMBERS, MEMBERS, max_size=5),
       birthday=st.one_of(st.none(), st.sampled_from(["", "1990-03-22", "1985-11-02",
                                                      "1990-02-30", "soon", "2000-1-5"])),
       day=st.dates(date(2026, 1, 1), date(2026, 12, 31)))
def test_the_first_reason_is_the_check_as_written(name, offered, limited, count, used, referrer,
                                                  friend, graph, birthday, day):
    limit = Limit(count, "month") if limited and offered else None
    fact = activity_facts(name, offered, limit, used)
    first = None
    if name == "referral":
        more, first = policies.referral_facts(referrer, friend, graph.get)
        fact.update(more)
    if name == "birthday":
        fact.update(policies.birthday_facts(birthday, day))
    ask = policies.ActivityAsk(name, fact, "retail", referrer, friend, first, birthday, limit)
    # a program where every activity may have a limit (the drawn one has one or not)
    refusal = policies.activity_refusal(activity_refusal_group(tuple(sorted(NAMES))), ask)
    assert (refusal.code if refusal else None) == written_refusal(
        name, offered, limit, used, referrer, friend, graph.get, birthday, day)
    if refusal is not None:
        assert refusal.conflict == (refusal.code in ("already_referred", "circular_referral"))


# ------------------------------------------------------------------ through the lifecycle

AT = datetime(2026, 11, 17, 17, 0, tzinfo=UTC)  # a Tuesday, in November (program-local too)


@pytest.fixture(scope="module")
def lc(retail):
    return Lifecycle(retail)


def _refused(call: Callable[[], Any]) -> ActivityRefused:
    with pytest.raises(ActivityRefused) as caught:
        call()
    return caught.value


def test_every_code_with_its_message_pointer_kind_and_rule(lc):
    a = lc.new_book("A", AT - timedelta(days=30))
    b = lc.new_book("B", AT - timedelta(days=30))
    c = lc.new_book("C", AT - timedelta(days=30))
    record_activity(lc, a, "referral", "E-1", AT, friend=b)  # A referred B
    record_activity(lc, b, "referral", "E-2", AT, friend=c)  # B referred C
    graph = {"B": "A", "C": "B"}
    cases = [
        (lambda: record_activity(lc, a, "referral", "E-3", AT, None, graph.get),
         "friend_required", "a referral names the referred friend (friend_id)", "/friend_id",
         False, "earning.activities.referral.friend"),
        (lambda: record_activity(lc, a, "referral", "E-4", AT, a, graph.get),
         "self_referral", "a member cannot refer themselves", "/friend_id", False,
         "earning.activities.referral.self"),
        (lambda: record_activity(lc, c, "referral", "E-5", AT, b, graph.get),
         "already_referred", ("member 'B' was already referred (by 'A'); a friend is "
         "referred, and earns the friend bonus, once per program"), "/friend_id", True,
         "earning.activities.referral.once"),
        (lambda: record_activity(lc, c, "referral", "E-6", AT, a, graph.get),
         "circular_referral", ("member 'A' referred 'C' (directly or through members they "
         "referred); referrals may not go in a circle"), "/friend_id", True,
         "earning.activities.referral.circle"),
        (lambda: record_activity(lc, a, "first_purchase", "E-7", AT),
         "activity_not_offered", ("activity 'first_purchase' comes with the member's first "
         "committed order"), "/activity", False, "earning.activities.with_order"),
        (lambda: record_activity(lc, a, "newsletter", "E-8", AT),
         "activity_not_offered", f"activity 'newsletter' is not offered by {lc.program.name}",
         "/activity", False, "earning.activities.offered"),
        (lambda: record_activity(lc, a, "birthday", "E-9", AT),
         "birthday_unknown", ("the birthday bonus needs the member's birthday on record "
         "(attribute `birthday`, YYYY-MM-DD)"), "/attributes/birthday", False,
         "earning.activities.birthday.on_record"),
    ]
    for call, code, message, pointer, conflict, rule in cases:
        exc = _refused(call)
        assert (exc.code, exc.message, exc.pointer, exc.conflict, exc.rule) == \
            (code, message, pointer, conflict, rule)
        decision = exc.record.find("activity_refusals")
        assert decision is not None and rule in decision.fired
    b.attributes["birthday"] = "1990-02-30"
    exc = _refused(lambda: record_activity(lc, b, "birthday", "E-10", AT))
    assert (exc.code, exc.message, exc.rule) == (
        "birthday_unknown", "the member's birthday '1990-02-30' is not a date (YYYY-MM-DD)",
        "earning.activities.birthday.date")
    b.attributes["birthday"] = "1990-03-22"
    exc = _refused(lambda: record_activity(lc, b, "birthday", "E-11", AT))
    assert (exc.code, exc.pointer, exc.rule) == ("not_birthday_month", "/occurred_at",
                                                 "earning.activities.birthday.month")
    record_activity(lc, c, "social_share", "E-12", AT)
    exc = _refused(lambda: record_activity(lc, c, "social_share", "E-13", AT))
    assert (exc.code, exc.message, exc.pointer, exc.conflict, exc.rule) == (
        "activity_limit_reached", ("social_share is limited to 1 per day; the member has "
        "reached it"), "/activity", False, "earning.activities.social_share.limit")
    assert exc.record.find("activity_refusals").fact[USES_LEFT] == 0
    # the next day the share is counted again: one use left, nothing refuses
    step = record_activity(lc, c, "social_share", "E-14", AT + timedelta(days=1))
    assert step.points == 10


def test_a_paid_activity_keeps_the_decisions_taken(lc):
    a = lc.new_book("P", AT - timedelta(days=3))
    b = lc.new_book("Q", AT - timedelta(days=3))
    step = record_activity(lc, a, "referral", "E-20", AT, friend=b)
    refusals = step.record.find("activity_refusals")
    assert refusals is not None and refusals.fired == frozenset()
    assert refusals.fact == {ACTIVITY: "referral", OFFERED: 1, ALONE: 1, USES_LEFT: 10, FRIEND_NAMED: 1,
                             FRIEND_IS_REFERRER: 0, FRIEND_REFERRED: 0, CLOSES_CIRCLE: 0}
    assert refusals.group is lc.program.questions.refusals.group
    # retail has a referral campaign: the decision of the one that sets the terms is kept
    campaigns = step.record.find("referral_campaigns")
    assert campaigns is not None and campaigns.group is lc.program.questions.activity
    assert step.rule in campaigns.fired | {"earning.activities.referral"}
    shared = record_activity(lc, a, "social_share", "E-21", AT)
    assert [d.question for d in shared.record.decisions] == ["activity_refusals"]


# ------------------------------------------------------------------ with an order

FIRST = "earning.activities.first_purchase"


@pytest.mark.parametrize(("state", "refused_by"), [
    ({"orders_count": 0}, None),
    ({"orders_count": 0, "activity_counts": {"first_purchase": 0}}, None),
    ({"orders_count": 1}, f"{FIRST}.first_order"),
    ({}, f"{FIRST}.first_order"),  # orders not known: not taken for a first order
    ({"orders_count": 0, "activity_counts": {"first_purchase": 1}}, f"{FIRST}.limit"),
])
def test_an_orders_first_purchase_bonus_is_the_rule_engines_decision(retail, state, refused_by):
    """The first-purchase bonus that comes with an order is decided by the activity's
    refusal rules, asked with the order (`activity.alone` 0, `member.first_order`), and
    the decision is in the evaluation's record and its explain trace."""
    from engine import evaluate
    from engine.evaluation.evaluator import Evaluation
    from engine.evaluation.request import parse
    from engine.evaluation.result import assemble
    from engine.evaluation.state import from_request
    from tests.conftest import make_request

    request = make_request([("electronics", "100.00")], state=state, explain=True)
    ev = Evaluation(retail, parse(request), from_request(request["member"]))
    outcome = assemble(ev, None)
    decision = ev.record.find("activity_refusals")
    assert decision is not None and decision.group is retail.questions.refusals.group
    assert decision.fact[ALONE] == 0 and decision.fact[ACTIVITY] == "first_purchase"
    assert decision.fired == (frozenset() if refused_by is None else {refused_by})
    given = [a.points for a in outcome.activities if a.activity == "first_purchase"]
    assert given == ([] if refused_by else [200])
    trace = {e["rule"]: e for e in evaluate(retail, request)["trace"]}
    assert trace[FIRST]["fired"] is (refused_by is None)
    if refused_by is not None:
        assert trace[refused_by]["fired"] is True and trace[refused_by]["kind"] == "activity_refusal"


def test_the_recorded_answer_is_the_one_used(retail):
    """The cached answer for a first order made to refuse (and put back after): the bonus
    follows the rule engine's answer, not a check written beside it."""
    import copy

    from engine import evaluate
    from engine.program import Program
    from tests.conftest import make_request

    program = Program.from_data(copy.deepcopy(dict(retail.data)))
    request = make_request([("electronics", "100.00")], state={"orders_count": 0})
    assert evaluate(program, request)["activities"] != []
    group = program.questions.refusals.group  # shared by rulesets with the same limits
    assert group.use_cache and len(group.cache) >= 1
    kept = dict(group.cache)
    try:
        for key in kept:
            group.cache[key] = frozenset({f"{FIRST}.first_order"})
        assert evaluate(program, request)["activities"] == []
    finally:
        group.cache.clear()
        group.cache.update(kept)
