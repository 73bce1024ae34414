"""An order is in its program's currency: another one is refused, never priced as if it
were (engine, so the CLI, the API and the simulator all refuse it)."""

from __future__ import annotations

from typing import Any

import pytest

from engine import RequestInvalid, evaluate


def _order(req: Any, currency: str | None) -> dict[str, Any]:
    request = req([("electronics", "100.00")], tier="gold")
    if currency is None:
        del request["order"]["currency"]
    else:
        request["order"]["currency"] = currency
    return request


@pytest.mark.parametrize("currency", ["JPY", "XXX", "EUR"])
def test_another_currency_is_a_request_error(retail, req, currency):
    with pytest.raises(RequestInvalid) as info:
        evaluate(retail, _order(req, currency))
    assert info.value.code == "currency_mismatch"
    (path, message), = info.value.errors
    assert path == "$.order.currency"
    assert message.startswith(f"the order is in {currency}, but program retail counts in USD")


def test_an_order_without_currency_is_in_the_programs(retail, req):
    with_usd, without = evaluate(retail, _order(req, "USD")), evaluate(retail, _order(req, None))
    assert with_usd["earn"] == without["earn"] and with_usd["earn"]["points"] > 0
