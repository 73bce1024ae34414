"""Write `books_0009.json`: the rows of every table of a database at revision 0009,
filled by the store code of that revision (ledger lots per rule, `remaining`,
`lot_allocations`, `usage_counters`), for tests/store/test_books_migration.py.

The store no longer writes these tables once it runs on the lifecycle core, so the
fixture was generated once, in a checkout of commit 989f142 (the last whose store code
writes revision 0009's tables), and committed:

    git worktree add /tmp/at-0009 989f142 && cp tests/store/data/make_books_0009.py \
        /tmp/at-0009/tests/store/data/ && cd /tmp/at-0009 && python -m tests.store.data.make_books_0009

The histories (one per program) are kept in the fixture too: the test replays them in
the simulator and compares each member's book with what the migration made of the rows.
Event types are the simulator's, plus `hold` (a checkout hold: a redemption for an
order not committed yet), `cancel` (of a redemption named by its `label`) and `expire`
(the expiry job, which the simulator needs no event for).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, select
from store.migrate import upgrade
from store.programs import ProgramCache

from engine import load_program
from store import activities, auto_redemption, clock, expiry, orders, redemptions, refunds, registry
from store.db import Database, open_database
from store.errors import StoreError
from tests.store.helpers import ServerClock

OUT = Path(__file__).with_name("books_0009.json")
REPO = Path(__file__).resolve().parents[3]


def line(category: str, unit_price: str, quantity: int = 1) -> dict[str, Any]:
    return {"sku": f"SKU-{category}", "category": category, "quantity": quantity,
            "unit_price": unit_price}


def order(member: str, order_id: str, at: str, *lines: dict[str, Any]) -> dict[str, Any]:
    return {"type": "order", "member_id": member, "at": at,
            "order": {"id": order_id, "lines": list(lines)}}


def ev(kind: str, member: str, at: str, **data: Any) -> dict[str, Any]:
    return {"type": kind, "member_id": member, "at": at, **data}


RETAIL = [
    # R1: orders, a review, a points and a reward redemption (the reward cancelled), a
    # partial refund, a checkout hold captured by its order and that order refunded, a
    # hold released by a cancel, expiry, and a hold still live at the end.
    order("R1", "O-R1-1", "2026-01-10T12:00:00-05:00", line("electronics", "150.00", 2)),
    ev("activity", "R1", "2026-01-12T12:00:00-05:00", activity="product_review"),
    order("R1", "O-R1-2", "2026-02-07T12:00:00-05:00", line("home", "200.00")),
    ev("redemption", "R1", "2026-02-10T12:00:00-05:00", points=500, label="R1-points"),
    ev("redemption", "R1", "2026-02-11T12:00:00-05:00", reward_id="REWARD-001",
       label="R1-reward"),
    ev("cancel", "R1", "2026-02-12T12:00:00-05:00", label="R1-reward"),
    ev("refund", "R1", "2026-02-20T12:00:00-05:00", order_id="O-R1-1", quantity=1),
    ev("hold", "R1", "2026-03-03T12:00:00-05:00", points=500, order_id="O-R1-3",
       order_total="300.00", label="R1-hold"),
    order("R1", "O-R1-3", "2026-03-03T12:10:00-05:00", line("fashion", "300.00")),
    ev("refund", "R1", "2026-03-05T12:00:00-05:00", order_id="O-R1-3"),
    ev("hold", "R1", "2026-03-06T12:00:00-05:00", points=500, order_id="O-R1-4",
       order_total="400.00", label="R1-dropped"),
    ev("cancel", "R1", "2026-03-06T12:05:00-05:00", label="R1-dropped"),
    order("R1", "O-R1-5", "2026-03-10T12:00:00-04:00", line("electronics", "700.00")),
    ev("redemption", "R1", "2026-03-11T12:00:00-04:00", reward_id="REWARD-101",
       label="R1-mug"),
    # R2: a tier challenge met (silver), and the downgrade two calendar years later.
    order("R2", "O-R2-1", "2026-04-01T12:00:00-04:00", line("electronics", "300.00")),
    order("R2", "O-R2-2", "2026-04-10T12:00:00-04:00", line("electronics", "250.00")),
    ev("activity", "R2", "2026-04-11T12:00:00-04:00", activity="social_share"),
    # R3: a refund after a redemption leaves a debt, a redemption is refused, later
    # points repay part of it.
    order("R3", "O-R3-1", "2026-05-05T12:00:00-04:00", line("electronics", "600.00")),
    ev("redemption", "R3", "2026-05-06T12:00:00-04:00", points=1300, label="R3-points"),
    ev("refund", "R3", "2026-05-07T12:00:00-04:00", order_id="O-R3-1"),
    ev("redemption", "R3", "2026-05-10T12:00:00-04:00", points=500, label="R3-refused"),
    order("R3", "O-R3-2", "2026-06-10T12:00:00-04:00", line("electronics", "400.00")),
    ev("activity", "R3", "2026-06-20T12:00:00-04:00", activity="product_review"),
    # R4 refers R5 and pays half an order with points (then half of it is refunded);
    # R5 orders, places a hold and lets it time out.
    ev("activity", "R4", "2026-07-01T12:00:00-04:00", activity="referral", friend_id="R5"),
    order("R5", "O-R5-1", "2026-07-02T12:00:00-04:00", line("home", "400.00", 2)),
    ev("hold", "R4", "2026-07-05T12:00:00-04:00", points=500, order_id="O-R4-1",
       order_total="600.00", label="R4-hold"),
    order("R4", "O-R4-1", "2026-07-05T12:10:00-04:00", line("fashion", "300.00", 2)),
    ev("refund", "R4", "2026-07-10T12:00:00-04:00", order_id="O-R4-1", quantity=1),
    ev("hold", "R5", "2026-07-03T12:00:00-04:00", points=500, order_id="O-R5-9",
       order_total="200.00", label="R5-timed-out"),
    ev("refund", "R5", "2026-07-20T12:00:00-04:00", order_id="O-R5-1", quantity=1),
    ev("expire", "", "2028-01-15T00:00:00-05:00"),
    order("R2", "O-R2-3", "2028-02-01T12:00:00-05:00", line("home", "50.00")),
    ev("expire", "", "2028-05-01T00:00:00-04:00"),
    order("R1", "O-R1-6", "2028-04-20T12:00:00-04:00", line("electronics", "300.00")),
    ev("hold", "R1", "2028-05-01T12:00:00-04:00", points=500, order_id="O-R1-9",
       order_total="100.00", label="R1-live"),
]

CARD = [
    # C1: rotating-category caps, cashback, automatic redemption (one cancelled), a
    # catalog reward, then a partial refund leaves a debt that the next order repays.
    order("C1", "O-C1-1", "2026-01-05T12:00:00-06:00", line("groceries", "400.00")),
    ev("auto_redemption", "C1", "2026-01-06T12:00:00-06:00", threshold=2500, unit=2500,
       method="cashback", frequency={"count": 1, "per": "month"}),
    order("C1", "O-C1-2", "2026-01-20T12:00:00-06:00", line("groceries", "300.00")),
    order("C1", "O-C1-3", "2026-02-03T12:00:00-06:00", line("groceries", "250.00", 2)),
    ev("cancel", "C1", "2026-02-04T12:00:00-06:00", label="auto:O-C1-3:0"),
    order("C1", "O-C1-4", "2026-02-10T12:00:00-06:00", line("groceries", "400.00")),
    ev("redemption", "C1", "2026-02-11T12:00:00-06:00", reward_id="CASHBACK-25",
       label="C1-cashback"),
    ev("refund", "C1", "2026-02-12T12:00:00-06:00", order_id="O-C1-3", quantity=1),
    order("C1", "O-C1-5", "2026-03-02T12:00:00-06:00", line("streaming", "200.00")),
    # C2: preferred with the tenth order (upgrade bonus), standard 12 months later.
    *[order("C2", f"O-C2-{n}", f"2026-0{1 + n // 4}-{10 + n:02d}T12:00:00-06:00",
            line("dining", "260.00")) for n in range(10)],
    order("C2", "O-C2-11", "2027-06-01T12:00:00-05:00", line("dining", "20.00")),
    # C3: a checkout hold captured by its order, and the order refunded in full.
    order("C3", "O-C3-1", "2026-03-20T12:00:00-05:00", line("groceries", "600.00")),
    ev("hold", "C3", "2026-04-01T12:00:00-05:00", points=2500, order_id="O-C3-2",
       order_total="300.00", label="C3-hold"),
    order("C3", "O-C3-2", "2026-04-01T12:15:00-05:00", line("dining", "300.00")),
    ev("refund", "C3", "2026-04-05T12:00:00-05:00", order_id="O-C3-2"),
    ev("expire", "", "2027-06-02T00:00:00-05:00"),
]


def publish(db: Database, name: str) -> None:
    program = load_program(REPO / "rulesets" / name)
    with db.writing() as session:
        registry.publish(session, program, "fixture", f"{name} v{program.version}")
        registry.activate(session, program.program, program.version, "fixture",
                          at_declared=True)


def send(db: Database, cache: ProgramCache, program: str, e: dict[str, Any],
         labels: dict[str, str], n: int) -> dict[str, Any] | None:
    """One history event through the store's calls; returns the store's answer."""
    kind, member, at = e["type"], e["member_id"], e["at"]
    if kind == "order":
        return orders.commit(db, cache, program, {"member": {"id": member}, "order": {
            **e["order"], "placed_at": at, "channel": "web", "currency": "USD"}}).result
    if kind in ("redemption", "hold"):
        body = {"member_id": member, "as_of": at, "idempotency_key": f"K-{n}"}
        body.update({k: e[k] for k in ("points", "reward_id", "order_id", "order_total")
                     if k in e})
        result = redemptions.redeem(db, cache, program, body).result
        labels[e["label"]] = result["id"]
        return result
    if kind == "cancel":
        return redemptions.cancel(db, program, labels[e["label"]], {"cancelled_at": at}).result
    if kind == "refund":
        body = {"refund_id": f"RF-{n}", "refunded_at": at}
        if "quantity" in e:
            body["lines"] = [{"index": 0, "quantity": e["quantity"]}]
        return refunds.refund(db, cache, program, e["order_id"], body).result
    if kind == "activity":
        body = {"event_id": f"E-{n}", "member_id": member, "activity": e["activity"],
                "occurred_at": at}
        if "friend_id" in e:
            body["friend_id"] = e["friend_id"]
        return activities.record(db, cache, program, body).result
    if kind == "auto_redemption":
        return auto_redemption.configure(db, cache, program, member, {
            k: e[k] for k in ("threshold", "unit", "method", "frequency")})
    if kind == "expire":
        return expiry.expire(db, program, datetime.fromisoformat(at)).to_json()
    raise ValueError(f"unknown event type {kind!r}")


def replay(db: Database, program: str, history: list[dict[str, Any]],
           labels: dict[str, str]) -> list[str]:
    """Send `history` to the store; returns the refusals, fills `labels` (redemption
    label → the store's redemption id)."""
    cache, refused = ProgramCache(), []
    for n, e in enumerate(history):
        try:
            result = send(db, cache, program, e, labels, n)
        except StoreError as exc:
            refused.append(f"{n}:{e['type']}:{exc.code}")
            continue
        for i, auto in enumerate(((result or {}).get("commit") or {}).get("auto_redemptions",
                                                                          ())):
            labels[f"auto:{e['order']['id']}:{i}"] = auto["id"]
    return refused


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def dump(db: Database) -> dict[str, Any]:
    meta = MetaData()
    with db.engine.connect() as conn:
        meta.reflect(conn)
        tables = {}
        for table in meta.sorted_tables:
            if table.name == "alembic_version":
                continue
            key = list(table.primary_key.columns) or list(table.columns)
            rows = conn.execute(select(table).order_by(*key)).all()
            tables[table.name] = {"columns": [c.name for c in table.columns],
                                  "rows": [[_value(v) for v in row] for row in rows]}
    return tables


def main(path: Path = OUT) -> None:
    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp")
    dbfile = workdir / "books_0009.db"
    dbfile.unlink(missing_ok=True)
    db = open_database(f"sqlite:///{dbfile}")
    upgrade(db, "0009")
    histories = {"retail": RETAIL, "card-rewards": CARD}
    refused, labels = {}, {name: {} for name in histories}
    with clock.use(ServerClock(datetime(2029, 1, 1, tzinfo=UTC))):
        for name, history in histories.items():
            publish(db, name)
            refused[name] = replay(db, name, history, labels[name])
    doc = {"revision": "0009", "histories": histories, "labels": labels,
           "refused": refused, "tables": dump(db)}
    db.dispose()
    dbfile.unlink()
    path.write_text(json.dumps(doc, indent=None, separators=(",", ":"), sort_keys=False) + "\n")
    print(f"wrote {path} ({path.stat().st_size} bytes); refused: {refused}")


if __name__ == "__main__":
    main()
