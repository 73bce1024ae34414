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
    tiers = _table("first", [("tier", "tier")], [("tierMult", "tierMult")], [
        ['"bronze"', "1"], ['"silver"', "1.25"], ['"gold"', "1.5"], ['"platinum"', "2"],
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
    line_points = (
        "map(lines, #.category == 'gift_cards' ? 0 : #.amount * tierMult * weekendMult * "
        "(#.category == 'electronics' ? 2 : #.category == 'fashion' ? max([1.5, fashionMult]) "
        ": #.category == 'home' ? 1.25 : 1))"
    )
    expr = {"expressions": [
        {"key": "linePoints", "value": line_points},
        {"key": "points", "value": "floor(sum($.linePoints))"},
        {"key": "maxRedeem", "value": "min([balance, floor(total * 0.5 * 100)])"},
        {"key": "redeemEligible", "value": "$.maxRedeem >= 500"},
    ]}
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
