"""Running a replay in one process or split by member across several.

Members are independent except for referrals (which change two books at once: members
linked by referrals form a group, and one worker owns a whole group) and the limits
they share: campaign budgets and reward stock. Every worker streams the whole file,
decodes only its own members' lines (`crc32(group or member id) % workers`), and keeps
only their state. Shared limits stay exact by
sequencing: before an event that may touch one (an order while a budgeted campaign can
be running, a redemption of a stock-limited reward), a worker publishes the line it is at
and waits until every other worker has moved past that line. All claims made before that
line are then in the shared counters and none made after it are, so the event sees
exactly what a single process would; the worker holding the lowest line never waits, so
the protocol cannot deadlock. Events that touch no shared limit never wait. Referrals,
which join two members, need no waiting: every worker reads every referral line before
the replay and groups the members they join the same way (`referral_groups`), so the
worker that owns a group replays both books of each of its referrals.
"""

from __future__ import annotations

import gc
import json
import multiprocessing as mp
import queue as queue_module
import time
import traceback
import zlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.lifecycle.book import snapshot
from engine.program import Program, load_program
from engine.rules import adapter as rules_engine
from engine.simulation.coupons import Coupons
from engine.simulation.history import EventError
from engine.simulation.replay import Reject, Replay
from engine.simulation.sources import event_texts, read_history
from engine.simulation.stats import Stats

INF = float("inf")
Outcome = tuple[int, int, int, str]  # points issued, points reversed, balance, tier


class SimulationFailed(Exception):
    """`--on-error fail` met a bad event."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line, self.message = line, message


@dataclass
class PartResult:
    stats: Stats
    budget_used: dict[str, int]
    outcomes: dict[str, Outcome]
    failure: tuple[int, str] | None = None
    states: list[str] | None = None  # one JSON line per member, when asked for


class LocalPool:
    """Shared limits of a single-process run: plain counters."""

    shared = False  # one process: nothing to wait for

    def __init__(self, program: Program, coupons: Coupons | None = None) -> None:
        self.budget: dict[str, int] = {}
        self.stock = initial_stock(program)
        self.coupons = coupons if coupons is not None else Coupons(program)
        self.codes = self.coupons.resolve
        self.move_code = self.coupons.move

    def sync(self, line: int) -> None:
        pass

    def progress(self, line: float) -> None:
        pass

    def budget_used(self, campaign: str) -> int:
        return self.budget.get(campaign, 0)

    def add_budget(self, campaign: str, points: int) -> None:
        self.budget[campaign] = self.budget.get(campaign, 0) + points

    def stock_left(self, reward: str) -> int | None:
        return self.stock.get(reward)

    def take_stock(self, reward: str, quantity: int) -> None:
        self.stock[reward] -= quantity


class SharedPool:
    """Shared limits across worker processes: counters in shared memory, sequenced."""

    shared = True  # workers wait for each other at budgets and stock

    def __init__(self, arrays: Mapping[str, Any], me: int, campaigns: list[str],
                 rewards: dict[str, int]) -> None:
        self.arrays, self.me = arrays, me
        self.progress_of = arrays["progress"]
        self.campaigns = {c: i for i, c in enumerate(campaigns)}
        self.rewards = {r: i for i, r in enumerate(rewards)}
        self.initial = rewards
        self.line, self.synced = 0.0, -1.0

    def _alone(self) -> None:
        """A move is made only while no other worker can pass this line: a move that
        gives back (a refund's budget, a cancel's or a released hold's stock) comes in
        events that did not wait before."""
        if self.line != INF and self.synced != self.line:
            self.sync(int(self.line))

    def progress(self, line: float) -> None:
        self.progress_of[self.me] = self.line = line

    def sync(self, line: int) -> None:
        self.progress_of[self.me] = self.line = self.synced = line
        others = [i for i in range(len(self.progress_of)) if i != self.me]
        delay = 0.0
        while any(self.progress_of[i] <= line for i in others):
            time.sleep(delay)
            delay = min(0.002, delay + 0.00002)

    def budget_used(self, campaign: str) -> int:
        return int(self.arrays["budget"][self.campaigns[campaign]])

    def add_budget(self, campaign: str, points: int) -> None:
        self._alone()
        self.arrays["budget"][self.campaigns[campaign]] += points

    def stock_left(self, reward: str) -> int | None:
        if reward not in self.rewards:
            return None
        return self.initial[reward] - int(self.arrays["stock"][self.rewards[reward]])

    def take_stock(self, reward: str, quantity: int) -> None:
        self._alone()
        self.arrays["stock"][self.rewards[reward]] += quantity

    def codes(self, presented: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
        """No coupon codes in a run split across processes (`simulate` runs a history
        in one process when it is given codes)."""
        return {}, dict.fromkeys(presented, "unknown")

    def move_code(self, code: str, uses: int) -> None:
        raise AssertionError("no coupon code is valid in a run split across processes")


def initial_stock(program: Program) -> dict[str, int]:
    redemption = program.model.redemption
    if redemption is None:
        return {}
    return {r.id: int(r.stock) for r in redemption.catalog if r.stock is not None}


def budgeted_campaigns(program: Program) -> list[str]:
    return [c.id for c in program.model.campaigns if c.budget_points is not None]


def replay_file(program: Program, history: Path, pool: Any, on_error: str,
                keep: Callable[[str | None], bool] | None = None,
                tick: Callable[[int], None] | None = None,
                ending: bool = False) -> tuple[Replay, tuple[int, str] | None]:
    """Stream `history` through a Replay; stop at the first bad event if on_error == fail."""
    stats = Stats()
    replay = Replay(program, pool, stats)
    try:
        with few_collections(freeze=ending):
            return replay, _replay_events(replay, history, pool, on_error, keep, tick)
    finally:
        replay.tally.close()


# A replay keeps every member's book alive to its end, so each full pass of Python's cyclic
# garbage collector walks all of them again: with the collector on, a fifth of a replay's
# time (400,000 events of 20,000 members: 38.5 s of CPU on, about 30 s off) and a cost per
# event that grows with the members. When it ends, `Replay.release` lets reference counting
# free most of it. While a replay runs, the only cyclic garbage it makes
# is the rule engine's (a few closures of durable-rules per fact asserted, that is per
# decision-cache miss: all of the 22,308 such objects found after 50,000 events), so the
# collector is off while it runs and collects the young generation once GARBAGE_CALLS facts
# have been asserted since the last time (seldom once the cache is warm).
GARBAGE_CALLS = 5_000


@contextmanager
def few_collections(freeze: bool = False) -> Iterator[None]:
    """The cyclic garbage collector off inside (see GARBAGE_CALLS), as it was after.

    What a replay still holds when it ends (`Replay.release` drops most of it) is freed by the
    collector once it is on again. `freeze`: for a process that ends with the replay (the
    worker processes of `--workers`), what is alive is frozen (gc.freeze) before the
    collector is on again, so that its collections in the little the process still does do
    not walk the whole replay (400,000 events with 2 workers: 15.8 s against 20.4 s); frozen
    cycles are never freed, which only a process about to end can afford. In a Dask worker
    the collector is off for the whole process while a task runs."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            if freeze:
                gc.freeze()
            gc.enable()


def _replay_events(replay: Replay, history: Path, pool: Any, on_error: str,
                   keep: Callable[[str | None], bool] | None,
                   tick: Callable[[int], None] | None) -> tuple[int, str] | None:
    stats, handle, progress = replay.stats, replay.handle, pool.progress
    asserted = rules_engine.calls()
    for item in read_history(history, keep):
        if isinstance(item, EventError):
            stats.reject(item.line, item.message)
            if on_error == "fail":
                return item.line, item.message
            continue
        progress(item.line)
        try:
            handle(item)
        except Reject as exc:
            stats.reject(item.line, str(exc))
            if on_error == "fail":
                return item.line, str(exc)
        if not item.line & 0x3FF:
            if tick is not None:
                tick(item.line)
            if rules_engine.calls() - asserted >= GARBAGE_CALLS:
                gc.collect(0)
                asserted = rules_engine.calls()
    return None


def outcomes(replay: Replay) -> dict[str, Outcome]:
    return replay.tally.outcomes(replay.members, replay.tier_ids)


def instant(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def member_states(replay: Replay) -> list[str]:
    """Every member's final state as a JSON line, sorted by member id."""
    return [json.dumps(snapshot(replay.members[mid].book), separators=(",", ":"))
            for mid in sorted(replay.members)]


def run_local(program: Program, history: Path, on_error: str,
              tick: Callable[[int], None] | None = None, states: bool = False,
              coupons: Coupons | None = None) -> PartResult:
    pool = LocalPool(program, coupons)
    replay, failure = replay_file(program, history, pool, on_error, None, tick)
    if failure is None and replay.stats.last_ts > float("-inf"):
        replay.finish(instant(replay.stats.last_ts))
    budget = {c: pool.budget_used(c) for c in budgeted_campaigns(program)}
    part = PartResult(replay.stats, budget, outcomes(replay), failure,
                      member_states(replay) if states else None)
    replay.release()
    return part


def referral_groups(history: Path) -> dict[str, str]:
    """Members linked by referrals (a referral changes the referrer's and the friend's
    books in one step), each mapped to its group's smallest member id: a worker owns a
    whole group. Only lines naming a friend are decoded."""
    parent: dict[str, str] = {}

    def root(member: str) -> str:
        while parent.get(member, member) != member:
            member = parent[member]
        return member

    for line in event_texts(history):  # CSV shards name no friends
        if '"friend_id"' not in line and '"referred_by"' not in line:
            continue
        try:
            data = json.loads(line)
            a, b = data["member_id"], data.get("friend_id") or data.get("referred_by")
        except (ValueError, KeyError, TypeError):
            continue  # the replay reports the bad line
        if isinstance(a, str) and isinstance(b, str):
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    return {member: root(member) for member in parent}


def _worker(sources: Mapping[str, str], history: str, on_error: str, me: int, workers: int,
            arrays: Mapping[str, Any], queue: Any, groups: Mapping[str, str],
            states: bool) -> None:
    progress, ends, done = arrays["progress"], arrays["ends"], arrays["done"]
    try:
        program = load_program(dict(sources))
        campaigns, rewards = budgeted_campaigns(program), initial_stock(program)
        pool = SharedPool(arrays, me, campaigns, rewards)

        def keep(member: str | None) -> bool:
            if member is None:
                return me == 0
            return zlib.crc32(groups.get(member, member).encode()) % workers == me

        replay, failure = replay_file(program, Path(history), pool, on_error, keep,
                                      ending=True)
        ends[me] = replay.stats.last_ts
        pool.progress(INF)
        done[me] = 1
        while not all(done[i] for i in range(workers)):
            time.sleep(0.005)
        end_ts = max(ends[i] for i in range(workers))
        if failure is None and end_ts > float("-inf"):
            replay.finish(instant(end_ts))
        budget = {c: pool.budget_used(c) for c in campaigns}
        queue.put((me, PartResult(replay.stats, budget, outcomes(replay), failure,
                                  member_states(replay) if states else None), None))
    except BaseException:  # noqa: BLE001 - any failure is reported; the parent fails the run
        progress[me] = INF
        done[me] = 1
        queue.put((me, None, traceback.format_exc()))


def run_parallel(program: Program, history: Path, workers: int, on_error: str,
                 tick: Callable[[int], None] | None = None, states: bool = False) -> PartResult:
    ctx = mp.get_context("spawn")
    groups = referral_groups(history)
    campaigns, rewards = budgeted_campaigns(program), initial_stock(program)
    arrays = {"progress": ctx.RawArray("d", workers), "ends": ctx.RawArray("d", workers),
              "done": ctx.RawArray("b", workers),
              "budget": ctx.RawArray("q", max(1, len(campaigns))),
              "stock": ctx.RawArray("q", max(1, len(rewards)))}
    for i in range(workers):
        arrays["ends"][i] = float("-inf")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, name=f"simulate-{i}",
                         args=(dict(program.sources), str(history), on_error, i, workers,
                               arrays, queue, groups, states)) for i in range(workers)]
    for p in procs:
        p.start()
    parts: dict[int, PartResult] = {}
    try:
        while len(parts) < workers:
            try:
                me, part, error = queue.get(timeout=0.2)
            except queue_module.Empty:  # update progress, check the workers are alive
                # a finished worker's progress is infinite: once every worker is
                # done, the results are still on their way and there is nothing to tell
                line = min(arrays["progress"][i] for i in range(workers))
                if tick is not None and line < float("inf"):
                    tick(int(line or 0))
                if any(p.exitcode not in (None, 0) for p in procs):
                    raise RuntimeError("a simulation worker died") from None
                continue
            if error is not None:
                raise RuntimeError(f"simulation worker {me} failed:\n{error}")
            parts[me] = part
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
    return merge([parts[i] for i in range(workers)])


def merge(parts: list[PartResult]) -> PartResult:
    stats = Stats()
    out: dict[str, Outcome] = {}
    for part in parts:
        stats.merge(part.stats)
        out.update(part.outcomes)
    failures = [p.failure for p in parts if p.failure is not None]
    lines = None if parts[0].states is None else [line for _, line in sorted(
        (json.loads(line)["member_id"], line) for p in parts for line in p.states or ())]
    budget = {}
    for part in parts:  # the counters are shared: every worker saw the same totals
        budget = part.budget_used
    return PartResult(stats, budget, out, min(failures) if failures else None, lines)
