"""The importer's event loop (store/imports/events.py) over HTTP: each event becomes the
API call a client would make, against a real `loyalty serve`. For a program whose
balances live in an external points API, an operator's calls come before each
redemption, as the import sends what is owed before one: `admin/expire` for the
redeeming member to the redemption's instant (their holds whose time ran out are
released), then `admin/external-points/run`."""

from __future__ import annotations

from typing import Any

import httpx

from store.imports.events import Refusal


class HttpTransport:
    def __init__(self, client: httpx.Client, program: str,
                 send_owed: dict[str, str] | None = None) -> None:
        """`send_owed`: an admin key's headers, to run the external points job before
        each redemption."""
        self.client, self.base = client, f"/v1/programs/{program}"
        self.ids: dict[str, str] = {}  # redemption idempotency key → the service's id
        self.send_owed = send_owed

    def run_external_points(self) -> dict[str, Any]:
        assert self.send_owed is not None
        r = self.client.post(f"{self.base}/admin/external-points/run", headers=self.send_owed)
        assert r.status_code == 200, r.text
        assert r.json()["retrying"] == 0, r.json()
        return r.json()

    def _send(self, path: str, body: dict[str, Any], method: str = "POST",
              ) -> tuple[bool, dict[str, Any]]:
        r = self.client.request(method, f"{self.base}{path}", json=body)
        if r.status_code in (200, 201):
            return r.status_code == 201 or method == "PUT", r.json()
        assert 400 <= r.status_code < 500 and r.status_code != 429, (r.status_code, r.text)
        problem = r.json()
        reasons = [e["code"] for e in problem.get("errors") or () if "rule" in e] or None
        raise Refusal(problem["code"], problem.get("detail", ""), reasons)

    def enrol(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        return self._send("/members", body)

    def commit(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        return self._send("/orders", body)

    def refund(self, order_id: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        return self._send(f"/orders/{order_id}/refunds", body)

    def activity(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        return self._send("/activities", body)

    def redeem(self, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        if self.send_owed is not None:
            r = self.client.post(f"{self.base}/admin/expire", headers=self.send_owed, json={
                "as_of": body["as_of"], "member_id": body["member_id"]})
            assert r.status_code == 200, r.text
            self.run_external_points()
        created, answer = self._send("/redemptions", body)
        self.ids[body["idempotency_key"]] = str(answer["id"])
        return created, answer

    def cancel(self, redemption_id: str, body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        created, answer = self._send(f"/redemptions/{redemption_id}/cancel", body)
        if not created:  # released when its time ran out (one run: never a retry here)
            raise Refusal("redemption_released", f"redemption {redemption_id} was released")
        return created, answer

    def auto_redemption(self, member_id: str,
                        body: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
        return self._send(f"/members/{member_id}/auto-redemption", body, method="PUT")

    def participate(self, campaign: str, body: dict[str, Any],
                    join: bool) -> tuple[bool, dict[str, Any]]:
        if join:
            return self._send(f"/campaigns/{campaign}/participants", body)
        r = self.client.delete(f"{self.base}/campaigns/{campaign}/participants/"
                               f"{body['member_id']}", params={"at": body["at"]})
        if r.status_code == 200:
            return r.json()["changed"], r.json()
        problem = r.json()
        raise Refusal(problem["code"], problem.get("detail", ""))

    def redemption_id(self, key: str) -> str | None:
        return self.ids.get(key)
