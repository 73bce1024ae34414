"""The explain trace of an order committed earlier, rebuilt from the member's history.

A commit stores its request and answer, but not the member's state the evaluation read
(tier window, cap spend of the period, campaign uses, …), and a trace is only recorded
when the request asked for one. So the member's own recorded events up to the order
(the store's export, store/imports/export.py, of that member and the referrals that
named them) are replayed through the lifecycle core, as the simulator replays any
history, and the order itself is evaluated with `explain` against the book at that
moment. The trace is then the evaluation's own record of its decisions
(engine/evaluation/explain.py), not a re-derivation.

What the member's history alone cannot rebuild are limits shared by all members
(campaign budgets, reward stock, which other members' events used): the caller compares
the points with the recorded answer and says so when they differ.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from engine.evaluation.render import result_json
from engine.program import Program
from engine.simulation.history import Event, InvalidEvent, check_event
from engine.simulation.partition import LocalPool
from engine.simulation.replay import Reject, Replay
from engine.simulation.stats import Stats


def explain_order(program: Program, lines: Iterable[str], member_id: str,
                  order_id: str) -> dict[str, Any] | None:
    """The result JSON, with `trace`, of `member_id`'s order `order_id` replayed after
    the history `lines` before it (JSON lines); None when the order is not in them."""
    replay = Replay(program, LocalPool(program), Stats())
    replay.explain_order = order_id
    try:
        for number, line in enumerate(lines, 1):
            try:
                event: Event = check_event(json.loads(line), number)
            except InvalidEvent:
                continue
            target = event.type == "order" and event.member_id == member_id \
                and event.data["order"]["id"] == order_id
            try:
                replay.handle(event)
            except Reject:
                if target:
                    return None
                continue  # as the simulator skips it
            if target:
                break
    finally:
        replay.tally.close()
    return result_json(replay.explained) if replay.explained is not None else None
