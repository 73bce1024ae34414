"""History events as the service's requests: the mapping `loyalty import` uses, one
event after another, over any `Transport` (the store's functions; the HTTP API in the
differential tests), exactly as the simulator replays them (engine/simulation/replay.py):

* `enroll` → an enrolment (`POST …/members`: attributes, starting tier, and the
  referrer's referral of the new member when it names `referred_by`);
* `order` → a commit; a `redeem` in it is a checkout hold placed just before the order,
  which the order captures;
* `refund` → a refund of the member's order, whole or by `amount`;
* `activity`, `redemption` (with `order_id`: a checkout hold), `cancel` (the history's
  redemption id → the service's) and `auto_redemption` (the member's settings);
* `campaign_join`, `campaign_leave` → the member joins or leaves an opt-in campaign
  (`POST …/campaigns/{id}/participants`, `DELETE …/participants/{member_id}`); an order's
  `codes` go with its commit.

Ids come from the history, so sending an event twice changes nothing: order ids are the
order's own, refund ids the event's line number, activity and enrolment event ids
`<prefix>:<line>:<what>`, redemption idempotency keys `<prefix>:<line>`.

What the simulator rejects for reasons of the history alone (an enrolment of a member
enrolled already, a member's event earlier than their previous one, a refund of an order
the member never placed, an order id used twice, a cancel of an unknown redemption) is
rejected here from what this loop remembers of the history; everything else is the
service's to decide. A redemption or an activity the rules refuse is *declined* and
counted under the simulator's keys (`declined:<code>`, `<activity>:<code>`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from engine.simulation.history import Event

ZERO = Decimal(0)


class Refusal(Exception):
    """The service refused a request: its problem `code`, and for a redemption the
    rules refused, every reason's code (`reasons`)."""

    def __init__(self, code: str, message: str, reasons: list[str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.reasons = code, message, reasons


class Transport(Protocol):
    """The service's calls, each taking the API's request body: they return (created,
    answer) — created False for an idempotent replay — or raise Refusal."""

    def enrol(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]: ...
    def commit(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]: ...
    def refund(self, order_id: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]: ...
    def activity(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]: ...
    def redeem(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]: ...
    def cancel(self, redemption_id: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]: ...
    def auto_redemption(self, member_id: str,
                        body: dict[str, Any]) -> tuple[bool, dict[str, Any]]: ...
    def adjust(self, member_id: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]: ...
    def status(self, member_id: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]: ...
    def redemption_id(self, key: str) -> str | None: ...
    def participate(self, campaign: str, body: dict[str, Any],
                    join: bool) -> tuple[bool, dict[str, Any]]: ...


@dataclass
class Part:
    """What the service refused of a line: the event itself, or the hold, bonus or
    referral that came with it."""

    part: str  # event hold account_creation referral
    outcome: str  # declined rejected
    codes: list[str]
    message: str

    def keys(self, event_type: str, activity: str | None) -> list[str]:
        """The simulator's counters this refusal adds to."""
        if self.outcome != "declined":
            return []
        if self.part == "hold" or event_type == "redemption":
            return [f"declined:{code}" for code in self.codes]
        name = self.part if self.part in ("account_creation", "referral") else activity
        return [f"{name}:{'no_points' if c == 'activity_not_offered' else c}"
                for c in self.codes]


@dataclass
class LineResult:
    line: int
    status: str  # applied replayed rejected
    refusals: list[Part] = field(default_factory=list)


@dataclass
class Remembered:
    """What the loop knows of the history so far, as the simulator does."""

    enrolled: set[str] = field(default_factory=set)
    last_at: dict[str, datetime] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)  # committed order id → member
    redemptions: dict[tuple[str, str], int] = field(default_factory=dict)  # → its line
    cancelled: set[tuple[str, str]] = field(default_factory=set)


class Rejected(Exception):
    """The event cannot be applied (the simulator's `Reject`)."""


class EventLoop:
    def __init__(self, transport: Transport, prefix: str = "import") -> None:
        self.transport, self.prefix = transport, prefix
        self.known = Remembered()

    # ---------------------------------------------------------------- the loop
    def handle(self, ev: Event) -> LineResult:
        result = LineResult(ev.line, "applied")
        try:
            self.check(ev)
            created = getattr(self, f"on_{ev.type}")(ev, result)
        except Rejected as exc:
            result.status = "rejected"
            result.refusals = [Part("event", "rejected", [], str(exc))]
            return result
        except Refusal as exc:
            declined = ev.type == "activity" or (ev.type == "redemption" and bool(exc.reasons))
            result.refusals.append(Part("event", "declined" if declined else "rejected",
                                        exc.reasons or [exc.code], exc.message))
            if not declined:
                result.status = "rejected"
                return result
            created = True
        if not created:
            result.status = "replayed"
        self.remember(ev, result)
        return result

    def check(self, ev: Event) -> None:
        """The simulator's checks of a member's own events (before any request)."""
        known = self.known
        if ev.type == "enroll":
            if ev.member_id in known.enrolled:
                raise Rejected(f"member {ev.member_id} is already enrolled")
            return
        if ev.type in ("adjust", "status") and ev.member_id not in known.enrolled:
            raise Rejected(f"unknown_member: member {ev.member_id} has no earlier event")
        if ev.member_id in known.enrolled:
            last = known.last_at.get(ev.member_id)
            if last is not None and ev.at < last:
                raise Rejected(f"event at {ev.data['at']} is earlier than member "
                               f"{ev.member_id}'s previous event; histories must be in "
                               "time order")
        known.enrolled.add(ev.member_id)

    def remember(self, ev: Event, result: LineResult) -> None:
        """After a line that was not rejected (also when skipping lines done before)."""
        known, member = self.known, ev.member_id
        known.enrolled.add(member)
        known.last_at[member] = max(ev.at, known.last_at.get(member, ev.at))
        if ev.type == "order":
            known.orders[ev.data["order"]["id"]] = member
        elif ev.type == "redemption" and ev.data.get("id") is not None \
                and not any(p.part == "event" for p in result.refusals):
            known.redemptions[(member, ev.data["id"])] = ev.line
            known.cancelled.discard((member, ev.data["id"]))
        elif ev.type == "cancel":
            known.cancelled.add((member, ev.data["redemption_id"]))

    def skip(self, ev: Event, refusals: list[Part]) -> None:
        """A line done by an earlier run: remember it as it went then."""
        if not any(p.outcome == "rejected" for p in refusals):
            self.remember(ev, LineResult(ev.line, "replayed", refusals))
        elif ev.type != "enroll":
            self.known.enrolled.add(ev.member_id)

    # ---------------------------------------------------------------- events
    def key(self, ev: Event, what: str = "") -> str:
        return f"{self.prefix}:{ev.line}" + (f":{what}" if what else "")

    def on_enroll(self, ev: Event, result: LineResult) -> bool:
        data = ev.data
        body: dict[str, Any] = {"event_id": self.key(ev, "enroll"), "member_id": ev.member_id,
                                "enrolled_at": data["at"]}
        for name in ("attributes", "tier", "referred_by"):
            if data.get(name) is not None:
                body[name] = data[name]
        created, answer = self.transport.enrol(body)
        for part in ("account_creation", "referral"):
            refused = (answer.get(part) or {}).get("refused")
            if refused:
                result.refusals.append(Part(part, "declined", [refused["code"]],
                                            refused["message"]))
        return created

    def on_order(self, ev: Event, result: LineResult) -> bool:
        order = ev.data["order"]
        if self.known.orders.get(order["id"]) == ev.member_id:
            raise Rejected(f"order {order['id']} was already recorded")
        order.setdefault("placed_at", ev.data["at"])
        wanted = ev.data.get("redeem")
        if wanted:
            placed = ev.parts[0]
            total = sum((ln.amount for ln in placed.lines), ZERO) + placed.shipping
            hold = {"member_id": ev.member_id, "order_id": order["id"],
                    "order_total": str(total), "as_of": ev.data["at"],
                    "idempotency_key": self.key(ev), **_what(wanted)}
            try:
                self.transport.redeem(hold)
            except Refusal as exc:
                result.refusals.append(Part("hold", "declined" if exc.reasons else "rejected",
                                            exc.reasons or [exc.code], exc.message))
        body = {"member": {"id": ev.member_id}, "order": order}
        if ev.data.get("codes"):
            body["codes"] = ev.data["codes"]
        created, _ = self.transport.commit(body)
        return created

    def on_campaign_join(self, ev: Event, result: LineResult) -> bool:
        return self.transport.participate(ev.data["campaign"], {
            "member_id": ev.member_id, "at": ev.data["at"]}, join=True)[0]

    def on_campaign_leave(self, ev: Event, result: LineResult) -> bool:
        return self.transport.participate(ev.data["campaign"], {
            "member_id": ev.member_id, "at": ev.data["at"]}, join=False)[0]

    def on_refund(self, ev: Event, result: LineResult) -> bool:
        order_id = ev.data["order_id"]
        if self.known.orders.get(order_id) != ev.member_id:
            raise Rejected(f"order {order_id} is unknown for member {ev.member_id}")
        body: dict[str, Any] = {"refund_id": str(ev.line), "refunded_at": ev.data["at"]}
        if "amount" in ev.data:
            body["amount"] = str(ev.data["amount"])
        created, _ = self.transport.refund(order_id, body)
        return created

    def on_activity(self, ev: Event, result: LineResult) -> bool:
        body = {"event_id": self.key(ev, "activity"), "member_id": ev.member_id,
                "activity": ev.data["activity"], "occurred_at": ev.data["at"]}
        if ev.data.get("friend_id"):
            body["friend_id"] = ev.data["friend_id"]
        created, _ = self.transport.activity(body)
        return created

    def on_redemption(self, ev: Event, result: LineResult) -> bool:
        data = ev.data
        body = {"member_id": ev.member_id, "as_of": data["at"],
                "idempotency_key": self.key(ev), **_what(data)}
        for name in ("order_id", "order_total"):
            if data.get(name) is not None:
                body[name] = str(data[name])
        created, _ = self.transport.redeem(body)
        return created

    def on_cancel(self, ev: Event, result: LineResult) -> bool:
        rid = ev.data["redemption_id"]
        line = self.known.redemptions.get((ev.member_id, rid))
        found = None if line is None or (ev.member_id, rid) in self.known.cancelled \
            else self.transport.redemption_id(f"{self.prefix}:{line}")
        if found is None:
            raise Rejected(f"no cancellable redemption {rid!r} for member {ev.member_id}")
        created, _ = self.transport.cancel(found, {"cancelled_at": ev.data["at"]})
        return created

    def on_auto_redemption(self, ev: Event, result: LineResult) -> bool:
        body = {k: v for k, v in ev.data.items() if k not in ("type", "member_id", "at")}
        created, _ = self.transport.auto_redemption(ev.member_id,
                                                    {**body, "as_of": ev.data["at"]})
        return created

    def on_adjust(self, ev: Event, result: LineResult) -> bool:
        body = {"points": ev.data["points"], "reason": ev.data.get("reason") or "imported",
                "adjustment_id": self.key(ev, "adjust"), "at": ev.data["at"]}
        created, _ = self.transport.adjust(ev.member_id, body)
        return created

    def on_status(self, ev: Event, result: LineResult) -> bool:
        body = {"status": ev.data["status"], "reason": ev.data.get("reason") or "imported",
                "at": ev.data["at"]}
        created, _ = self.transport.status(ev.member_id, body)
        return created


def _what(data: dict[str, Any]) -> dict[str, Any]:
    """Points, or a reward and its quantity."""
    if data.get("reward_id") is not None:
        return {"reward_id": data["reward_id"], "quantity": int(data.get("quantity", 1))}
    return {"points": int(data["points"])}


def declined_counts(results: Iterator[tuple[LineResult, Event]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for result, ev in results:
        for part in result.refusals:
            for key in part.keys(ev.type, ev.data.get("activity")):
                counts[key] = counts.get(key, 0) + 1
    return counts
