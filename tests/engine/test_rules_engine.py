"""The durable-rules adapter (engine/rules/adapter.py) under the conditions measured for it
(docs/performance.md): > 1,024 sequential sessions of one ruleset, 8 threads at once, `in` compiled
to `$or`, facts that match nothing."""

from __future__ import annotations

import threading
import uuid

from engine import evaluate
from engine.rules import adapter as rules_engine
from engine.rules.compile import CompiledRule, DecisionGroup
from engine.rules.encoding import Encoding
from tests.conftest import make_request


def _name(label: str) -> str:
    return f"test-adapter-{label}-{uuid.uuid4().hex[:8]}"


def test_more_than_1024_sequential_sessions():
    # without delete_state, session 1,024 of one ruleset raises MemoryError
    name = _name("seq")
    rules_engine.register(name, {"big": {"all": [{"m": {"$and": [
        {"kind": "fact"}, {"$gte": {"f_total": 100}}]}}]}})
    for i in range(1500):
        fired = rules_engine.fire(name, {"kind": "fact", "f_total": i % 200})
        assert fired == (["big"] if i % 200 >= 100 else [])


def test_more_than_1024_decisions_of_one_group():
    # an uncached group makes every evaluation reach the rule engine
    group = DecisionGroup(_name("group"), [CompiledRule("r", {"field": "order.total",
                                                              "gte": "10"})], use_cache=False)
    for i in range(1100):
        assert group.decide({"order.total": i % 20}) == (frozenset({"r"}) if i % 20 >= 10
                                                          else frozenset())


def _requests():
    out = []
    for i in range(40):
        out.append(make_request([("electronics", f"{10 + i}.00"), ("fashion", "20.00", 1 + i % 3)],
                                tier=["bronze", "silver", "gold", "platinum"][i % 4],
                                at=f"2026-11-{1 + i % 28:02d}T12:00:00-05:00",
                                balance=1000 * i, redeem={"points": 500}))
    return out


def test_concurrent_evaluation_matches_sequential(retail):
    requests = _requests()
    expected = [evaluate(retail, r) for r in requests]
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            results[t] = [evaluate(retail, r) for r in requests for _ in range(2)][::2]
        except BaseException as exc:  # noqa: BLE001  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert all(results[t] == expected for t in range(8))


def test_concurrent_raw_fire():
    # many threads asserting facts straight into one ruleset: the global lock serialises them
    name = _name("threads")
    rules_engine.register(name, {"even": {"all": [{"m": {"$and": [
        {"kind": "fact"}, {"f_n": 0}]}}]}})
    bad: list = []

    def work() -> None:
        for i in range(300):
            got = rules_engine.fire(name, {"kind": "fact", "f_n": i % 2})
            if got != (["even"] if i % 2 == 0 else []):
                bad.append((i, got))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert bad == []


def test_in_compiles_to_or_of_integer_codes_and_matches():
    cond = {"field": "member.tier", "in": ["gold", "platinum"]}
    encoding = Encoding()
    encoding.add(cond)
    encoding.freeze()
    name = encoding.fields["member.tier"].names["v"]
    assert encoding.to_durable(cond) == {"$or": [{name: 1}, {name: 2}]}
    group = DecisionGroup(_name("in"), [CompiledRule("top", cond)], use_cache=False)
    assert group.decide({"member.tier": "gold"}) == {"top"}
    assert group.decide({"member.tier": "platinum"}) == {"top"}
    assert group.decide({"member.tier": "silver"}) == frozenset()
    single = {"field": "member.tier", "in": ["gold"]}
    assert encoding.to_durable(single) == {name: 1}


def test_unmatched_fact_is_fine():
    name = _name("none")
    rules_engine.register(name, {"never": {"all": [{"m": {"$and": [
        {"kind": "fact"}, {"f_x": "nothing-has-this"}]}}]}})
    for _ in range(50):   # repeated: deleting a session the fact never created must not crash
        assert rules_engine.fire(name, {"kind": "fact", "f_x": "other"}) == []
    group = DecisionGroup(_name("nomatch"), [CompiledRule("r", {"field": "order.channel",
                                                                "eq": "web"})])
    assert group.decide({}) == frozenset()
    assert group.decide({"order.channel": "app"}) == frozenset()


def test_registering_twice_is_harmless():
    name = _name("twice")
    rules = {"a": {"all": [{"m": {"$and": [{"kind": "fact"}, {"f_a": 1}]}}]}}
    rules_engine.register(name, rules)
    rules_engine.register(name, rules)
    assert rules_engine.fire(name, {"kind": "fact", "f_a": 1}) == ["a"]


def test_error_codes_are_translated():
    # the codes of durable-rules' rules.h: 303 is the depth-first stack of alpha nodes
    assert "too many conditions true at once" in rules_engine.translate(
        Exception("Could not assert, error code: 303"))
    assert "too many fields" in rules_engine.translate(Exception("error code: 302"))
    assert "all/any groups" in rules_engine.translate(Exception("error code: 113"))


def test_no_background_thread_calls_into_the_engine():
    # durable's Host starts timer threads that dispatch queued actions of every ruleset
    # without any lock; they raced with our own calls (missing rules, segfaults)
    import durable.engine

    runs = [t for t in threading.enumerate() if isinstance(t, threading.Timer)
            and getattr(t.function, "__qualname__", "").startswith(durable.engine.Host._run
                                                                   .__qualname__)]
    assert runs == []
    name = _name("quiet")
    rules_engine.register(name, {"a": {"all": [{"m": {"f_a": 1}}]}})
    assert [t for t in threading.enumerate() if t not in runs and isinstance(t, threading.Timer)
            and "dispatch" in getattr(t.function, "__name__", "")] == []


def test_a_thousand_rules_fire_at_once_every_time():
    # 32 × 32 rules true together (the network stays within the native stack): with
    # durable's dispatch threads running, some evaluations lost hundreds of them
    name = _name("thousand")
    rules_engine.register(name, {f"r{i}-{j}": {"all": [{"m": {"$and": [
        {"$gte": {"a": i}}, {"$gte": {"b": j}}]}}]} for i in range(31) for j in range(32)})
    for _ in range(25):
        assert len(set(rules_engine.fire(name, {"kind": "fact", "a": 99, "b": 99}))) == 31 * 32


FATAL_SCRIPT = """
import itertools
from engine.rules import adapter as rules_engine
calls = []
rules_engine.on_fatal(calls.append)
rules_engine.register("fatal-a", {"a": {"all": [{"m": {"f": 1}}]}})
rules_engine.register("fatal-b", {"b": {"all": [{"m": {"f": 1}}]}})
with rules_engine._LOCK:  # leak sessions of ruleset a until the native engine refuses
    for i in itertools.count():
        try:
            rules_engine._HOST.assert_fact("fatal-a", {"kind": "fact", "sid": f"x{i}"})
        except MemoryError:
            break
for name in ("fatal-a", "fatal-b", "fatal-a"):
    try:
        rules_engine.fire(name, {"kind": "fact", "f": 1})
    except rules_engine.EngineFatal as exc:
        print("fatal", name, exc)
try:
    rules_engine.register("fatal-c", {"c": {"all": [{"m": {"f": 1}}]}})
except rules_engine.EngineFatal:
    print("fatal register")
late = []
rules_engine.on_fatal(late.append)
print("hooks", len(calls), len(late), rules_engine.is_fatal())
"""


def test_memory_error_is_fatal_for_the_whole_process():
    # in a child process: the fatal state is for good, and every later call is refused
    # without touching the native engine (ruleset b was fine, yet is refused too)
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", FATAL_SCRIPT], capture_output=True, text=True,
                         timeout=120, check=True).stdout.splitlines()
    assert [line.split(" the ")[0] for line in out[:3]] == \
        ["fatal fatal-a", "fatal fatal-b", "fatal fatal-a"]
    assert "MemoryError" in out[0]
    assert out[3:] == ["fatal register", "hooks 1 1 True"]
