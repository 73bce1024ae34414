"""How often a cluster partition publishes its progress: often while partitions sync,
backing off while none does, and never more than one publication unanswered (every actor
call costs the workers' event loops about a millisecond of CPU).

The `Sequencer` here is the real one, called on an event loop of this process instead of
through Dask: what is tested is the partition's side (`ClusterPool`), not the transport,
which tests/simulate/test_cluster.py runs on a local cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from engine.program import Program
from engine.simulation.cluster import (
    IDLE_PUBLISH_SECONDS,
    PUBLISH_SECONDS,
    ClusterPool,
    Sequencer,
)
from engine.simulation.coupons import Coupons


class Answered:
    def __init__(self, value: Any) -> None:
        self.value = value

    def done(self) -> bool:
        return True

    def result(self) -> Any:
        return self.value


class Unanswered:
    def done(self) -> bool:
        return False

    def result(self) -> Any:
        raise AssertionError("read before it was answered")


class Local:
    """The sequencer's methods as a partition calls them, run on one event loop here;
    `hold=True` leaves publications without moves unanswered."""

    def __init__(self, sequencer: Sequencer, loop: asyncio.AbstractEventLoop) -> None:
        self.sequencer, self.loop, self.hold = sequencer, loop, False
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.sequencer, name)

        def call(*args: Any) -> Any:
            self.calls.append(name)
            value = self.loop.run_until_complete(method(*args))
            no_moves = name == "advance" and not any(args[2].values())
            return Unanswered() if self.hold and no_moves else Answered(value)
        return call


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def _pool(retail: Program, sequencer: Local, me: int = 0) -> ClusterPool:
    return ClusterPool(sequencer, me, {}, Coupons(retail))


def test_publications_back_off_while_nobody_syncs(retail: Program,
                                                  loop: asyncio.AbstractEventLoop) -> None:
    local = Local(Sequencer(2, [], []), loop)
    pool = _pool(retail, local)
    assert pool.interval == PUBLISH_SECONDS
    seen = []
    for line in range(1, 8):
        pool.line = line
        pool.publish()
        seen.append(pool.interval)
    # Each answer (read at the next publication) says nobody synced: twice as long,
    # up to the idle interval.
    assert seen[0] == PUBLISH_SECONDS
    assert seen[1:4] == [PUBLISH_SECONDS * 2, PUBLISH_SECONDS * 4, PUBLISH_SECONDS * 8]
    assert seen[-1] == IDLE_PUBLISH_SECONDS
    assert local.sequencer.progress[0] == 7


def test_another_partitions_sync_brings_publications_back_to_often(
        retail: Program, loop: asyncio.AbstractEventLoop) -> None:
    local = Local(Sequencer(2, [], []), loop)
    pool = _pool(retail, local)
    for line in range(1, 10):
        pool.line = line
        pool.publish()
    assert pool.interval == IDLE_PUBLISH_SECONDS
    # Partition 1 waits at line 5: partition 0 is past it, so it goes on at once.
    loop.run_until_complete(local.sequencer.sync(1, 5, {"budget": {}, "stock": {},
                                                        "codes": []}))
    pool.line = 10
    pool.publish()  # reads the previous answer: no new sync before it
    pool.line = 11
    pool.publish()  # reads the answer of line 10's publication: one sync more
    assert pool.interval == PUBLISH_SECONDS


def test_a_partitions_own_sync_publishes_often_again(
        retail: Program, loop: asyncio.AbstractEventLoop) -> None:
    local = Local(Sequencer(1, [], []), loop)
    pool = _pool(retail, local)
    for line in range(1, 10):
        pool.line = line
        pool.publish()
    assert pool.interval == IDLE_PUBLISH_SECONDS
    pool.sync(12)
    assert pool.interval == PUBLISH_SECONDS
    assert local.sequencer.progress[0] == 12


def test_at_most_one_publication_is_unanswered_but_moves_always_go(
        retail: Program, loop: asyncio.AbstractEventLoop) -> None:
    local = Local(Sequencer(1, ["c"], []), loop)
    pool = _pool(retail, local)
    local.hold = True
    for line in range(1, 6):
        pool.line = line
        pool.publish()
    assert local.calls == ["advance"]  # the first is still unanswered
    assert local.sequencer.progress[0] == 1
    pool.add_budget("c", 30)  # syncs first (the partition moves the counter alone)
    pool.line = 7
    pool.publish()  # a move waits for its answer, whatever is unanswered
    assert local.calls == ["advance", "sync", "advance"]
    assert local.sequencer.budget == {"c": 30}
    assert local.sequencer.progress[0] == 7
