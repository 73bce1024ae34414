"""The peer for bench/eval_bench.py: the retail earning decision as a GoRules zen-engine
JSON Decision Model (decision tables + an expression node), built here so both engines
decide the same thing: tier multiplier, category multipliers (fashion week best-of),
the double-points weekend, gift-card exclusion, order-level floor, redemption cap."""

from __future__ import annotations

import json
from typing import Any

import zen


def _node(node_id: str, kind: str, content: dict | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"id": node_id, "type": kind, "name": node_id,
                            "position": {"x": 0, "y": 0}}
    if content is not None:
        node["content"] = content
    return node


def _table(hit: str, inputs: list[tuple[str, str]], outputs: list[tuple[str, str]],
           rules: list[list[str]]) -> dict[str, Any]:
    ins = [{"id": f"i{n}", "type": "expression", "field": f, "name": name}
           for n, (name, f) in enumerate(inputs)]
    outs = [{"id": f"o{n}", "type": "expression", "field": f, "name": name}
            for n, (name, f) in enumerate(outputs)]
    body = []
    for n, rule in enumerate(rules):
        row = {"_id": f"r{n}"}
        for i, cell in enumerate(rule[:len(ins)]):
            row[f"i{i}"] = cell
        for o, cell in enumerate(rule[len(ins):]):
            row[f"o{o}"] = cell
        body.append(row)
    return {"hitPolicy": hit, "inputs": ins, "outputs": outs, "rules": body}


def retail_graph() -> dict[str, Any]:
    tiers = _table("first", [("tier", "tier")],
                   [("tierMult", "tierMult"), ("freeShip", "freeShip"), ("bdayPct", "bdayPct"),
                    ("nextTier", "nextTier"), ("nextSpend", "nextSpend"),
                    ("nextOrders", "nextOrders")], [
        ['"bronze"', "1", "75", "10", '"silver"', "500", "5"],
        ['"silver"', "1.25", "50", "15", '"gold"', "1500", "15"],
        ['"gold"', "1.5", "25", "20", '"platinum"', "5000", "50"],
        ['"platinum"', "2", "0", "25", "null", "0", "0"],
    ])
    weekend = _table("first", [("weekday", "weekday"), ("dom", "dom")],
                     [("weekendMult", "weekendMult")], [
        ['"saturday"', "[1..7]", "2"],
        ['"sunday"', "[2..8]", "2"],
        ["", "", "1"],
    ])
    fashion = _table("first", [("date", "date(date)")], [("fashionMult", "fashionMult")], [
        ['[date("2026-09-14")..date("2026-09-20")]', "3"],
        ["", "1"],
    ])
    category = ("(#.category == 'electronics' ? 2 : #.category == 'fashion' ? "
                "max([1.5, fashionMult]) : #.category == 'home' ? 1.25 : 1)")
    expressions = [
        # per line: eligible amount, the multipliers that apply, unrounded points
        ("eligible", "map(lines, #.category == 'gift_cards' ? 0 : #.amount)"),
        ("categoryMults", f"map(lines, {category})"),
        ("linePoints", ("map(lines, #.category == 'gift_cards' ? 0 : "
                        f"#.amount * tierMult * weekendMult * {category})")),
        ("points", "floor(sum($.linePoints))"),
        # attribution by rule: base, tier, category, campaign
        ("basePoints", "sum($.eligible)"),
        ("tierPoints", "sum($.eligible) * (tierMult - 1)"),
        ("categoryPoints", (f"sum(map(lines, #.category == 'gift_cards' ? 0 : "
                            f"#.amount * tierMult * ({category} - 1)))")),
        ("campaignPoints", "sum($.linePoints) * (weekendMult - 1) / weekendMult"),
        # benefits
        ("subtotal", "sum(map(lines, #.amount))"),
        ("freeShipping", "$.subtotal >= freeShip"),
        ("birthdayDiscount", "birthMonth == month ? bdayPct : null"),
        # progress to the next tier after this order
        ("spendNeeded", "max([0, nextSpend - qualSpend - $.basePoints])"),
        ("ordersNeeded", "max([0, nextOrders - qualOrders - 1])"),
        # redemption eligibility with reasons
        ("giftCardDeny", "some(lines, #.category == 'gift_cards')"),
        ("maxRedeem", "min([balance, floor(total * 0.5 * 100)])"),
        ("belowMinimum", "redeemPoints < 500"),
        ("insufficient", "redeemPoints > balance"),
        ("exceedsShare", "redeemPoints > $.maxRedeem"),
        ("redeemEligible", ("not ($.belowMinimum or $.insufficient or $.exceedsShare "
                            "or $.giftCardDeny)")),
        ("redeemValue", "redeemPoints / 100"),
        ("bigBasket", "total >= 1000"),
    ]
    expr = {"expressions": [{"key": k, "value": v} for k, v in expressions]}
    nodes = [
        _node("request", "inputNode"),
        _node("tiers", "decisionTableNode", tiers),
        _node("weekend", "decisionTableNode", weekend),
        _node("fashion", "decisionTableNode", fashion),
        _node("earn", "expressionNode", expr),
        _node("response", "outputNode"),
    ]
    edges = [("request", "tiers"), ("request", "weekend"), ("request", "fashion"),
             ("tiers", "earn"), ("weekend", "earn"), ("fashion", "earn"), ("request", "earn"),
             ("earn", "response")]
    for n, item in enumerate(expr["expressions"]):
        item["id"] = f"x{n}"
    return {"contentType": "application/vnd.gorules.decision", "nodes": nodes,
            "edges": [{"id": f"e{i}", "sourceId": a, "targetId": b, "type": "edge"}
                      for i, (a, b) in enumerate(edges)]}


def load() -> Any:
    engine = zen.ZenEngine()
    return engine.create_decision(json.dumps(retail_graph()))
