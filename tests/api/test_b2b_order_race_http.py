"""Two account managers of one company ordering the last unit and the last points at
the same instant, over HTTP, through a real `loyalty serve` with 2 workers on loopback
and the points API on loopback: one order is placed; the other is refused (409
OUT_OF_STOCK or INSUFFICIENT_POINTS) with nothing reserved or debited for it — no
oversell, no overdraft. SQLite locally, PostgreSQL in CI."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

import store.clock as clock
import store.inventory.stock as inventory
from store.db.database import open_database
from store.registry.programs import ProgramCache
from tests.api.server import running_server
from tests.loopback import LoopbackServer
from tests.points_api import PointsApi
from tests.store.b2b_helpers import PROGRAM, make_company, make_manager
from tests.store.db_support import scratch_database

COFFEE, GIFT = "PHYS-COFFEE-MACHINE", "VIRT-GIFT-CARD-100"
ORDER = {"items": [{"reward_id": COFFEE, "quantity": 1}, {"reward_id": GIFT, "quantity": 1}]}


def test_two_managers_race_for_the_last_unit_and_the_last_points(tmp_path):
    api = PointsApi({"ACC-ACME": 70_000})  # one coffee machine and one gift card
    with scratch_database(tmp_path) as url, LoopbackServer(api) as points, running_server(
            url, tmp_path, workers=2, settings={
                "LOYALTY_POINTS_API_URLS": json.dumps({"loyalty-points-api": points.url}),
                "LOYALTY_JOBS_ENABLED": "false"}) as server:
        db = open_database(url)
        try:
            make_company(db, "ACME")
            keys = [make_manager(db, "ACME", name, "requester") for name in ("ann", "cat")]
            with db.reading() as session:
                program = ProgramCache().resolve(session, PROGRAM, clock.now())
            inventory.adjust(db, program, COFFEE, -24, "tests", "one left")
            gate = threading.Barrier(2)

            def order(key: str) -> httpx.Response:
                with httpx.Client(base_url=server.url, timeout=30) as http:
                    gate.wait()
                    return http.post(f"/v1/programs/{PROGRAM}/companies/ACME/orders",
                                     json=ORDER, headers={"Authorization": f"Bearer {key}"})

            with ThreadPoolExecutor(2) as pool:
                answers = list(pool.map(order, keys))
            codes = sorted(a.status_code for a in answers)
            assert codes == [201, 409], [a.text for a in answers]
            refused = next(a for a in answers if a.status_code == 409).json()
            assert refused["code"] in ("OUT_OF_STOCK", "INSUFFICIENT_POINTS")
            assert api.balances["ACC-ACME"] == 0
            assert [kind for kind, _, _ in api.log] == ["debit"]
            coffee = next(i for i in inventory.listing(db, program)["items"]
                          if i["reward_id"] == COFFEE)
            assert (coffee["available"], coffee["reserved"]) == (0, 1)
        finally:
            db.dispose()
