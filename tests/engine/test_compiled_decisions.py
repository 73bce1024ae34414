"""The decisions compiled beyond campaigns (engine/rules/questions.py) equal a plain Python
statement of each rule, over hypothesis-drawn members, dates and rulesets: tier
qualification, challenge goals, usage limits and budgets, referral campaigns for
activities, and each redemption refusal. Every check goes through the decision cache, so
a cached answer is checked against the statement for every later fact that reuses its
key (drawn amounts sit a hair from the thresholds, so many do); two tests check a hit
explicitly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.lifecycle.policies as policies
from engine.evaluation.redeem import assess as assess_typed
from engine.evaluation.redeem import max_points
from engine.evaluation.render import assessment_json
from engine.evaluation.request import Redeem
from engine.language.model import Redemption, Reward
from engine.lifecycle.tiering import TierRules
from engine.rules.compile import DecisionGroup, limit_rules
from engine.rules.questions import (
    QUALIFYING_ORDERS,
    QUALIFYING_SPEND,
    challenge_rules,
    redemption_group,
    tier_group,
)


def assess(*args, **kwargs):
    """The assessment as the API shows it (its `redemption` block)."""
    return assessment_json(assess_typed(*args, **kwargs))


SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TIERS = ("bronze", "silver", "gold", "platinum")


def cached(group: DecisionGroup, fact: dict) -> tuple[frozenset[str], bool]:
    """The group's decision for `fact`, and whether it came from the cache."""
    hit = group.encoding.key(fact) in group.cache
    return group.decide(fact), hit


# thresholds and amounts of any precision, many of them a hair from each other
base = st.sampled_from(["0", "0.00", "500", "1500.00", "5000", "123456789.123456789"])
offset = st.builds(lambda k, s: s * Decimal(10) ** -k, st.integers(0, 30),
                   st.sampled_from([-1, 0, 1]))
amounts = st.builds(lambda b, o: max(Decimal(0), Decimal(b) + o), base, offset)


@pytest.fixture(scope="module")
def ladder_set():
    # A few ladders, compiled once each (compiled rulesets live for the process).
    return [(TIERS[:4], ((Decimal("0.00"), 0), (Decimal("500.00"), 5),
                         (Decimal("1500.00"), 15), (Decimal("5000.00"), 50))),
            (TIERS[:3], ((Decimal(0), 0), (Decimal("99.999999999999999999"), 0),
                         (Decimal("100.000000000000000001"), 2))),
            (TIERS[:2], ((Decimal(10), 1), (Decimal(10), 3)))]


@SETTINGS
@given(which=st.integers(0, 2), spend=amounts, orders=st.integers(0, 80))
def test_tier_qualification_is_the_plain_statement(ladder_set, which, spend, orders):
    ids, thresholds = ladder_set[which]
    group = tier_group(ids, thresholds)
    met, _ = cached(group, {QUALIFYING_SPEND: spend, QUALIFYING_ORDERS: orders})
    assert met == {f"tiers.{t}.qualification" for t, (s, o) in zip(ids, thresholds)
                   if spend >= s and orders >= o}
    rules = TierRules(ids, thresholds, "calendar_year", "never", UTC)
    plain = max((i for i, (s, o) in enumerate(thresholds) if spend >= s and orders >= o),
                default=0)
    assert rules.qualify(spend, orders) == plain


def test_the_tier_cache_is_used(ladder_set):
    ids, thresholds = ladder_set[0]
    group = tier_group(ids, thresholds)
    group.decide({QUALIFYING_SPEND: Decimal("600.00"), QUALIFYING_ORDERS: 7})
    # another fact between the same thresholds shares the key: a cache hit, and right
    met, hit = cached(group, {QUALIFYING_SPEND: Decimal("1499.999999"), QUALIFYING_ORDERS: 14})
    assert hit and met == {"tiers.bronze.qualification", "tiers.silver.qualification"}


@pytest.fixture(scope="module")
def campaign_groups(variant):
    def change(data):
        data["campaigns"] = [
            {"id": "c1", "name": "C1", "type": "tier_challenge", "target_spend": "500.00",
             "window_days": 30, "limit_per_member": 1},
            {"id": "c2", "name": "C2", "type": "tier_challenge",
             "target_spend": "0.000000000000000000001", "window_days": 7},
            {"id": "w", "name": "W", "type": "fixed_bonus", "points": 5,
             "limit_per_member": 3, "budget": {"points": 1000}}]
    program = variant(change)
    return program, program.questions.challenges, program.compiled.order


@SETTINGS
@given(spends=st.tuples(amounts, amounts), uses=st.tuples(st.integers(0, 5), st.integers(0, 5)),
       budget=st.integers(0, 2000))
def test_goals_and_limits_are_the_plain_statement(campaign_groups, spends, uses, budget):
    program, goals, limits = campaign_groups
    fact = {"member.challenge_spend.c1": spends[0], "member.challenge_spend.c2": spends[1]}
    met, _ = cached(goals, fact)
    assert met == {f"campaigns.{c}.goal" for c, s, target in
                   (("c1", spends[0], Decimal("500.00")),
                    ("c2", spends[1], Decimal("0.000000000000000000001"))) if s >= target}
    # the limits are decided with the order's rules (on a fact without an order here)
    fact = {"member.campaign_usage.c1": uses[0], "member.campaign_usage.w": uses[1],
            "program.campaign_budget_used.w": budget}
    used_up, _ = cached(limits, fact)
    assert used_up & {r.id for r in limit_rules(program.model.campaigns)} == ({"campaigns.c1.limit_per_member"} if uses[0] >= 1 else set()) \
        | ({"campaigns.w.limit_per_member"} if uses[1] >= 3 else set()) \
        | ({"campaigns.w.budget"} if budget >= 1000 else set())
    assert [r.id for r in challenge_rules(program.model.campaigns)] == [
        "campaigns.c1.goal", "campaigns.c2.goal"]
    assert len(limit_rules(program.model.campaigns)) == 3


# ------------------------------------------------------------------ referral campaigns

REFERRAL_VARIANTS = [
    {"schedule": {"days_of_week": ["saturday"]}, "eligibility": {"tiers": ["platinum"]}},
    {"schedule": {"from": "2026-03-01", "to": "2026-03-31", "days_of_week": ["monday", "friday"]}},
    {"schedule": {"monthly": {"nth": 2, "weekday": "sunday", "days": 3}},
     "eligibility": {"segments": ["vip", "staff"], "tiers": ["gold", "platinum"]}},
    {"eligibility": {"channels": ["web"]}},  # an activity has no channel: never applies
]


@pytest.fixture(scope="module")
def referral_programs(variant):
    programs = []
    for extra in REFERRAL_VARIANTS:
        def change(data, extra=extra):
            data["campaigns"] = [{"id": "ref", "name": "Ref", "type": "referral",
                                  "points": 900, "friend_bonus": 400, **extra},
                                 {"id": "always", "name": "Always", "type": "referral",
                                  "points": 700,
                                  "schedule": {"from": "2026-06-01", "to": "2026-06-30"}}]
        programs.append(variant(change))
    return programs


def plain_referral(extra: dict, tier: str, segments: list[str], day: date) -> str | None:
    """Which campaign a referral by this member on this program-local day gets."""
    sched, elig = extra.get("schedule", {}), extra.get("eligibility", {})
    ok = not elig.get("channels")
    ok = ok and ("tiers" not in elig or tier in elig["tiers"])
    ok = ok and ("segments" not in elig or bool(set(segments) & set(elig["segments"])))
    ok = ok and ("from" not in sched or day >= date.fromisoformat(sched["from"]))
    ok = ok and ("to" not in sched or day <= date.fromisoformat(sched["to"]))
    ok = ok and ("days_of_week" not in sched or WEEKDAYS[day.weekday()] in sched["days_of_week"])
    if ok and "monthly" in sched:
        m = sched["monthly"]
        ok = any(WEEKDAYS[(day - timedelta(days=k)).weekday()] == m["weekday"]
                 and 7 * (m["nth"] - 1) < (day - timedelta(days=k)).day <= 7 * m["nth"]
                 for k in range(m["days"]))
    if ok:
        return "campaigns.ref"
    return "campaigns.always" if date(2026, 6, 1) <= day <= date(2026, 6, 30) else None


@SETTINGS
@given(which=st.integers(0, len(REFERRAL_VARIANTS) - 1), tier=st.sampled_from(TIERS),
       segments=st.lists(st.sampled_from(["vip", "staff", "new"]), unique=True),
       minute=st.integers(0, 366 * 24 * 60))
def test_referral_campaigns_are_the_plain_statement(referral_programs, which, tier, segments,
                                                    minute):
    program = referral_programs[which]
    at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=minute)
    day = at.astimezone(program.timezone).date()
    campaign = policies.referral_campaign(program, "M-1", {"segments": segments}, tier, at)
    assert (campaign.rule_id if campaign else None) == \
        plain_referral(REFERRAL_VARIANTS[which], tier, segments, day)
    terms = policies.referral_terms(program, "M-1", {"segments": segments}, tier, at)
    assert terms is not None and terms.rule == (campaign.rule_id if campaign
                                                else "earning.activities.referral")


def test_a_saturday_platinum_referral_campaign_does_not_pay_a_bronze_member_on_a_tuesday(
        referral_programs):
    from engine.lifecycle import Lifecycle, record_activity

    program = referral_programs[0]
    lc = Lifecycle(program)
    tuesday, saturday = (datetime.fromisoformat(f"2026-11-{d}T12:00:00-05:00") for d in (17, 21))
    for tier, at, rule, points in (
            ("bronze", tuesday, "earning.activities.referral", 500),
            ("bronze", saturday, "earning.activities.referral", 500),
            ("platinum", tuesday, "earning.activities.referral", 500),
            ("platinum", saturday, "campaigns.ref", 900)):
        book = lc.new_book(f"R-{tier}-{at.day}", at - timedelta(days=1), tier=tier)
        friend = lc.new_book(f"F-{tier}-{at.day}", at - timedelta(days=1))
        step = record_activity(lc, book, "referral", f"E-{tier}-{at.day}", at, friend=friend)
        assert (book.tier, step.rule, step.points) == (tier, rule, points)
        assert step.friend_points == (400 if rule == "campaigns.ref" else 200)


# ------------------------------------------------------------------ redemption refusals

CATALOG = (
    Reward("R1", "Voucher", "discount", 500, Decimal("5.00"), None, Decimal("25.00"), 30,
           None, None, "virtual"),
    Reward("R2", "Mug", "product", 1000, None, 3, None, None, None, None, "physical"),
    Reward("R3", "VIP", "experience", 5000, None, None, None, None,
           frozenset({"gold", "platinum"}), "by_appointment", "manual"),
    Reward("101", "Numbered", "product", 250, None, 0, Decimal("0.000000000000000000001"),
           None, frozenset({"bronze"}), None, "physical"),
)
CONFIGS = [
    Redemption(100, Decimal("1.00"), 500, Decimal("0.5"), 24, None, CATALOG),
    Redemption(3, Decimal("0.07"), 0, None, None, None, CATALOG[:2]),
    Redemption(100, Decimal("1.00"), 1, Decimal("0.3333333333333333333333"), None, None, ()),
]


def plain_reasons(config: Redemption, redeem: Redeem | None, balance: int, tier: str | None,
                  order_total: Decimal | None, stock: dict[str, int]) -> list[str]:
    """The refusal codes, as the rules were stated in Python before they were compiled."""
    codes = ["NEGATIVE_BALANCE"] if balance < 0 else []
    debt = balance < 0
    limit = max_points(config, balance, order_total)
    if redeem is None or redeem.points is not None:
        points = redeem.points if redeem and redeem.points is not None else limit
        if points < config.min_points:
            codes.append("BELOW_MINIMUM")
        if redeem and points > balance and not debt:
            codes.append("INSUFFICIENT_POINTS")
        elif redeem and points > limit and not debt:
            codes.append("EXCEEDS_ORDER_SHARE")
        return codes
    reward = config.reward(redeem.reward_id or "")
    if reward is None:
        return [*codes, "UNKNOWN_REWARD"]
    if reward.tiers and tier not in reward.tiers:
        codes.append("TIER_RESTRICTED")
    left = stock.get(reward.id, reward.stock)
    if left is not None and left < redeem.quantity:
        codes.append("OUT_OF_STOCK")
    if reward.points * redeem.quantity > balance and not debt:
        codes.append("INSUFFICIENT_POINTS")
    if reward.min_order is not None and order_total is not None and order_total < reward.min_order:
        codes.append("BELOW_MIN_ORDER")
    return codes


redeems = st.one_of(
    st.none(),
    st.builds(lambda p: Redeem(points=p), st.integers(0, 20_000)),
    st.builds(lambda r, q: Redeem(reward_id=r, quantity=q),
              st.sampled_from(["R1", "R2", "R3", "101", "NOPE", ""]), st.integers(1, 4)))


@SETTINGS
@given(which=st.integers(0, len(CONFIGS) - 1), redeem=redeems,
       balance=st.one_of(st.integers(-5000, 20_000), st.sampled_from([0, 499, 500, 1000, 5000])),
       tier=st.one_of(st.none(), st.sampled_from(TIERS)),
       order_total=st.one_of(st.none(), amounts, st.sampled_from([Decimal("24.99"),
                                                                  Decimal("25.00")])),
       stock=st.dictionaries(st.sampled_from(["R1", "R2", "101"]), st.integers(0, 5)))
def test_redemption_refusals_are_the_plain_statement(which, redeem, balance, tier, order_total,
                                                     stock):
    config = CONFIGS[which]
    group = redemption_group(config).group("reward" if redeem and redeem.reward_id is not None
                                           else "points")
    before = len(group.cache)
    out = assess(config, redeem, balance=balance, tier=tier, order_total=order_total,
                 stock=stock, denials=[])
    assert [r["code"] for r in out["reasons"]] == \
        plain_reasons(config, redeem, balance, tier, order_total, stock)
    assert out["eligible"] == (not out["reasons"])
    assert len(group.cache) <= before + 1


def test_redemption_messages_and_rules_are_unchanged():
    config = CONFIGS[0]
    out = assess(config, Redeem(reward_id="R2", quantity=4), balance=100, tier="bronze",
                 order_total=None, stock={"R2": 1}, denials=[])
    assert out["reasons"] == [
        {"code": "OUT_OF_STOCK", "message": "Mug: 1 left, 4 requested.",
         "rule": "redemption.catalog.R2"},
        {"code": "INSUFFICIENT_POINTS", "message": "Mug costs 4000 points; the available "
         "balance is 100.", "rule": "redemption.catalog.R2"}]
    out = assess(config, Redeem(points=400), balance=-20, tier="gold",
                 order_total=Decimal("10.00"), stock={}, denials=[])
    assert [(r["code"], r["rule"]) for r in out["reasons"]] == [
        ("NEGATIVE_BALANCE", "redemption.refund_policy"),
        ("BELOW_MINIMUM", "redemption.min_points")]
    out = assess(config, Redeem(reward_id="NOPE"), balance=0, tier="gold", order_total=None,
                 stock={}, denials=[])
    assert out["reasons"] == [{"code": "UNKNOWN_REWARD", "rule": "redemption.catalog",
                               "message": "No reward 'NOPE' in the catalog."}]


def test_a_cached_refusal_is_right_for_another_fact_with_its_key():
    config = CONFIGS[0]
    group = redemption_group(config).group("points")
    first = assess(config, Redeem(points=3000), balance=2000, tier="gold",
                   order_total=Decimal("100.00"), stock={}, denials=[])
    # 2,500 over 1,700 differs in every amount but falls where 3,000 over 2,000 did
    key_hits = len(group.cache)
    second = assess(config, Redeem(points=2500), balance=1700, tier="gold",
                    order_total=Decimal("90.00"), stock={}, denials=[])
    assert len(group.cache) == key_hits  # the second answer came from the cache
    assert [r["code"] for r in first["reasons"]] == [r["code"] for r in second["reasons"]] \
        == ["INSUFFICIENT_POINTS"]
