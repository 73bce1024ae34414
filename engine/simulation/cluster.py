"""A partitioned replay on a Dask distributed cluster (`loyalty simulate --cluster ADDRESS`).

The partitions are those of `--workers N` (engine/simulation/partition.py): partition i
replays the members (referral groups) with `crc32(id) % N == i`, streaming the whole
history and decoding only its own members' lines, each partition a Dask task pinned to
its own worker thread. The shared limits (campaign budgets, reward stock) are sequenced as
the processes of one machine sequence them, through a `Sequencer` instead of shared
memory: one Dask actor holds every partition's progress (the history line it is at) and
the counters. Before an event that may read or move a shared limit, a partition calls
`sync(line)`, which returns once every other partition is past that line, with the
counters as they stand; until that partition publishes a later line no other one can
pass its line, so it moves the counters alone and sends its moves with its next
publication. Otherwise a partition publishes its line only so that one waiting in `sync`
can go on: every `PUBLISH_SECONDS` while partitions are syncing, backing off to every
`IDLE_PUBLISH_SECONDS` while nobody has synced since its last publication (each
publication's answer says how many syncs there have been). Every actor call costs about
a millisecond of the two workers' event loops (messages, serialization, Dask's metrics),
so events that touch nothing shared should cost no message: at a fixed 5 ms the
publications were about 45 % of the workers' CPU (docs/performance.md). A partition's
thread yields the interpreter lock every 0.5 ms, so that its worker's event loop answers
the actor's calls promptly. The report is the one a single process gives, byte for
byte.

Every partition needs all of its tasks running at once (they wait for each other), so a
run asks for at most as many partitions as the cluster has worker threads. Dask itself is
imported only by `run_cluster`: the workers import this module to run a partition and to
host the actor, and the rest of the engine never imports Dask.
"""

from __future__ import annotations

import asyncio
import sys
import time
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from engine.program import Program, load_program
from engine.simulation.coupons import Coupons
from engine.simulation.partition import (
    INF,
    PartResult,
    budgeted_campaigns,
    initial_stock,
    instant,
    member_states,
    merge,
    outcomes,
    referral_groups,
    replay_file,
)

PUBLISH_SECONDS = 0.005  # how often a partition tells the others where it is, at most
IDLE_PUBLISH_SECONDS = 0.08  # ... and at least, backing off while nobody syncs
# The partition's thread holds the GIL while it replays; the worker's event loop (which
# answers the actor's calls) gets it back after this long rather than after 5 ms.
SWITCH_SECONDS = 0.0005
CONNECT_TIMEOUT = "10s"  # to reach the scheduler


class ClusterUnavailable(RuntimeError):
    """The scheduler cannot be reached, or the cluster cannot hold the partitions."""


# {"budget": {campaign: points}, "stock": {reward: units}, "codes": [(code, uses), ...]}
Moves = dict[str, Any]


def _no_moves() -> Moves:
    return {"budget": {}, "stock": {}, "codes": []}


class Sequencer:
    """The Dask actor that sequences the partitions: their progress and the counters."""

    def __init__(self, partitions: int, campaigns: list[str], rewards: list[str]) -> None:
        self.progress = [0.0] * partitions
        self.ends = [float("-inf")] * partitions
        self.budget = dict.fromkeys(campaigns, 0)
        self.stock = dict.fromkeys(rewards, 0)  # units taken
        self.codes: dict[str, int] = {}  # coupon code → uses taken
        self.syncs = 0  # calls of `sync` so far: partitions publish often while it grows
        self.aborted = False
        self._changed: asyncio.Condition | None = None

    def _condition(self) -> asyncio.Condition:
        if self._changed is None:  # made on the worker's event loop, where the methods run
            self._changed = asyncio.Condition()
        return self._changed

    def _apply(self, me: int, line: float, moves: Moves) -> None:
        for campaign, points in moves["budget"].items():
            self.budget[campaign] = self.budget.get(campaign, 0) + points
        for reward, units in moves["stock"].items():
            self.stock[reward] = self.stock.get(reward, 0) + units
        for code, uses in moves["codes"]:  # in order: a code's uses never go below 0
            self.codes[code] = max(0, self.codes.get(code, 0) + uses)
        self.progress[me] = max(self.progress[me], line)

    async def _until(self, ready: Callable[[], bool]) -> None:
        changed = self._condition()
        async with changed:
            changed.notify_all()
            while not ready():
                if self.aborted:
                    raise RuntimeError("the simulation was aborted (a partition failed)")
                await changed.wait()

    async def advance(self, me: int, line: float, moves: Moves) -> int:
        """Partition `me` is at `line` (everything before it done), with these moves;
        the number of syncs so far."""
        self._apply(me, line, moves)
        await self._until(lambda: True)
        return self.syncs

    async def sync(self, me: int, line: float, moves: Moves,
                   ) -> tuple[dict[str, int], dict[str, int]]:
        """Wait until every other partition is past `line`; the counters then."""
        self._apply(me, line, moves)
        self.syncs += 1
        await self._until(lambda: all(p > line for i, p in enumerate(self.progress)
                                      if i != me))
        return dict(self.budget), dict(self.stock)

    async def used(self, codes: tuple[str, ...]) -> dict[str, int]:
        """Uses taken of these coupon codes (asked between a `sync` and the next
        publication, when nobody else can move them)."""
        return {code: self.codes.get(code, 0) for code in codes}

    async def end(self, me: int, last_ts: float, moves: Moves) -> float:
        """Partition `me` read its whole history; the last instant of every partition's,
        once all have (each then brings its books to that instant)."""
        self.ends[me] = last_ts
        self._apply(me, INF, moves)
        await self._until(lambda: all(p == INF for p in self.progress))
        return max(self.ends)

    async def abort(self) -> None:
        self.aborted = True
        await self._until(lambda: True)

    def totals(self) -> dict[str, int]:
        return dict(self.budget)

    def lowest(self) -> float:
        return min(self.progress)


class ClusterPool:
    """A partition's side of the shared limits: the counters as of its last `sync`, and
    its own moves since, sent with its next publication."""

    shared = True

    def __init__(self, sequencer: Any, me: int, rewards: dict[str, int],
                 coupons: Coupons) -> None:
        self.sequencer, self.me, self.initial, self.coupons = sequencer, me, rewards, coupons
        self.budget: dict[str, int] = {}
        self.taken: dict[str, int] = {}
        self.moves = _no_moves()
        self.line, self.synced, self.sent = 0.0, -1.0, time.monotonic()
        self.interval = PUBLISH_SECONDS  # until the next publication
        self.syncs = 0  # the sequencer's count of syncs, as of its last answer
        self.answer: Any = None  # the last publication's, not waited for

    def progress(self, line: float) -> None:
        self.line = line
        if time.monotonic() - self.sent >= self.interval:
            self.publish()

    def _heard(self, syncs: int) -> None:
        """Publish often while partitions sync, less and less often while none does."""
        if syncs > self.syncs:
            self.syncs, self.interval = syncs, PUBLISH_SECONDS
        else:
            self.interval = min(self.interval * 2, IDLE_PUBLISH_SECONDS)

    def publish(self) -> None:
        self.sent = time.monotonic()
        if self.answer is not None and self.answer.done():
            self._heard(self.answer.result())
            self.answer = None
        if self.moves["budget"] or self.moves["stock"] or self.moves["codes"]:
            # Moves wait for their answer: no later publication may overtake them.
            self._heard(self.sequencer.advance(self.me, self.line, self.moves).result())
            self.moves = _no_moves()
        elif self.answer is None:  # at most one unanswered publication
            self.answer = self.sequencer.advance(self.me, self.line, _no_moves())

    def sync(self, line: int) -> None:
        self.line = line
        self.budget, self.taken = self.sequencer.sync(self.me, line, self.moves).result()
        self.moves, self.synced, self.sent = _no_moves(), line, time.monotonic()
        self.interval = PUBLISH_SECONDS  # the others may be syncing too

    def _alone(self) -> None:
        """A move is made only while no other partition can pass this line."""
        if self.line != INF and self.synced != self.line:
            self.sync(int(self.line))

    def budget_used(self, campaign: str) -> int:
        return self.budget.get(campaign, 0)

    def add_budget(self, campaign: str, points: int) -> None:
        self._alone()
        self.budget[campaign] = self.budget.get(campaign, 0) + points
        self.moves["budget"][campaign] = self.moves["budget"].get(campaign, 0) + points

    def stock_left(self, reward: str) -> int | None:
        if reward not in self.initial:
            return None
        return self.initial[reward] - self.taken.get(reward, 0)

    def take_stock(self, reward: str, quantity: int) -> None:
        self._alone()
        self.taken[reward] = self.taken.get(reward, 0) + quantity
        self.moves["stock"][reward] = self.moves["stock"].get(reward, 0) + quantity

    def codes(self, presented: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
        """As `Coupons.resolve`, with the uses every partition has taken (an order that
        presents codes has synced)."""
        known = tuple(c for c in presented if c in self.coupons.codes)
        if known:
            self._alone()
            for code, used in self.sequencer.used(known).result().items():
                self.coupons.codes[code][2] = used
        return self.coupons.resolve(presented)

    def move_code(self, code: str, uses: int) -> None:
        self._alone()
        self.coupons.move(code, uses)
        self.moves["codes"].append((code, uses))


def run_partition(sources: Mapping[str, str], history: str, on_error: str, me: int,
                  partitions: int, sequencer: Any, groups: Mapping[str, str],
                  states: bool, codes: Mapping[str, list[Any]]) -> PartResult:
    """One partition, as a Dask task: its members' replay, sequenced by `sequencer`.
    `codes`: the coupon codes (code → [campaign, uses, 0])."""
    switch = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_SECONDS)
    try:
        program = load_program(dict(sources))
        coupons = Coupons(program)
        coupons.codes = {code: list(held) for code, held in codes.items()}
        pool = ClusterPool(sequencer, me, initial_stock(program), coupons)

        def keep(member: str | None) -> bool:
            if member is None:
                return me == 0
            return zlib.crc32(groups.get(member, member).encode()) % partitions == me

        replay, failure = replay_file(program, Path(history), pool, on_error, keep)
        end_ts = sequencer.end(me, replay.stats.last_ts, pool.moves).result()
        pool.moves, pool.line = _no_moves(), INF
        if failure is None and end_ts > float("-inf"):
            replay.finish(instant(end_ts))
        sequencer.advance(me, INF, pool.moves).result()  # what finishing moved
        part = PartResult(replay.stats, {}, outcomes(replay), failure,
                          member_states(replay) if states else None)
        replay.release()
        return part
    except BaseException:
        sequencer.abort()  # the others must not wait for this one
        raise
    finally:
        sys.setswitchinterval(switch)


def run_cluster(program: Program, history: Path, address: str, partitions: int | None,
                on_error: str, tick: Callable[[int], None] | None = None,
                states: bool = False, coupons: Coupons | None = None) -> PartResult:
    """The replay split into `partitions` (default: one per worker thread of the cluster
    at `address`) and run there; `coupons`: the program's coupon codes."""
    try:
        from distributed import Client, wait
    except ImportError:
        raise ClusterUnavailable("--cluster needs Dask distributed: pip install "
                                 "'loyalty-rules[cluster]'") from None

    try:
        client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise ClusterUnavailable(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        workers = sorted((addr, int(info.get("nthreads", 1)))
                         for addr, info in client.scheduler_info()["workers"].items())
        # Round robin over the workers: two partitions share a worker only when needed.
        slots = [addr for k in range(max((n for _, n in workers), default=0))
                 for addr, n in workers if k < n]
        count = partitions or len(slots)
        if not slots or count > len(slots):
            raise ClusterUnavailable(
                f"the cluster at {address} has {len(slots)} worker thread(s); {count} "
                "partitions need one each (they run at once)")
        campaigns, rewards = budgeted_campaigns(program), initial_stock(program)
        sequencer: Any = client.submit(Sequencer, count, campaigns, list(rewards), actor=True,
                                  workers=[slots[0]]).result()
        groups = referral_groups(history)
        futures = [client.submit(run_partition, dict(program.sources), str(history), on_error,
                                 i, count, sequencer, groups, states,
                                 coupons.codes if coupons is not None else {}, pure=False,
                                 key=f"simulate-partition-{i}-{time.time_ns()}",
                                 workers=[slots[i]], allow_other_workers=False)
                   for i in range(count)]
        while True:
            try:
                wait(futures, timeout=0.2)
            except TimeoutError:
                pass
            failed = [f for f in futures if f.status == "error"]
            if failed:
                sequencer.abort().result()
                failed[0].result()  # raises the partition's exception
            if all(f.done() for f in futures):
                break
            if tick is not None:
                line = sequencer.lowest().result()
                if line < INF:
                    tick(int(line))
        parts = client.gather(futures)
        merged = merge(parts)
        merged.budget_used = sequencer.totals().result()
        return merged
    finally:
        client.close()
