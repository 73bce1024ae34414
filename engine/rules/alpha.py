"""How much of the native engine's fixed limits a compiled ruleset uses, and how to split
rules and rulesets so that none is ever exceeded (durable-rules 2.0.28, src/rules).

rete.c turns each rule's condition into a chain of *alpha nodes*, one per comparison,
shared with other rules where the same comparison hangs off the same node; an `$or`
joins its alternatives into a fresh node. events.c (`handleAlpha`) walks this network
depth first for every fact asserted, with an explicit stack of 64 pending nodes
(MAX_STACK_SIZE): popping a node pushes each child whose comparison the fact passes, and
each `$or` join it leads to. A fact that passes more fails with engine code 303 (and
leaves its session behind: 1,024 of those and the process died). So what bounds one
ruleset is not how many rules it has but how many comparisons can hold at once.

`Net` rebuilds the network the way rete.c does and keeps an upper bound of that stack
for *any* fact: a node pushes at most all its children (of several equalities on one
property, one at most) and all its joins, and along any path down from the root every
node leaves all but one of what it pushed pending. With the other fixed sizes
(properties per fact, and/or groups per rule, children, joins and rules per node, rules
per ruleset) it decides whether rules `fit` one registered ruleset. `split` cuts a rule
that fits no ruleset alone into parts, to be combined by all/any outside the engine;
`pack` puts parts into as few rulesets as fit, in order (one for every shipped program).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from engine.rules.adapter import NativeLimits
from engine.rules.encoding import ALWAYS, combine

# What a compiled ruleset may use of each limit (a little below each, by design).
STACK_BUDGET = NativeLimits.STACK - 4
PROPERTY_BUDGET = NativeLimits.FACT_PROPERTIES - 15  # kind, sid and id are added to facts
GROUP_BUDGET = NativeLimits.EXPRESSIONS // 2 - 2  # each $and/$or takes two entries
CHILD_BUDGET = NativeLimits.NODE_CHILDREN - 32
JOIN_BUDGET = NativeLimits.NODE_NEXT_LIST - 8
RULES_PER_NODE_BUDGET = NativeLimits.NODE_RULES - 16
RULES_BUDGET = NativeLimits.ACTIONS - 96

_OPS = {"$neq": "ne", "$gt": "gt", "$gte": "gte", "$lt": "lt", "$lte": "lte"}


def groups(expr: Mapping[str, Any]) -> int:
    """How many $and/$or groups an expression has (each takes two of EXPRESSIONS)."""
    inner = expr.get("$and", expr.get("$or"))
    return 0 if inner is None else 1 + sum(groups(e) for e in inner)


def tests(expr: Mapping[str, Any]) -> int:
    """How many comparisons an expression has."""
    inner = expr.get("$and", expr.get("$or"))
    return 1 if inner is None else sum(tests(e) for e in inner)


class Net:
    """The alpha network of one ruleset (the catch-all rule plus the rules added), with
    the stack bound kept up to date as rules are added."""

    def __init__(self) -> None:
        self.kids: list[dict[tuple[str, str, Any], int]] = []
        self.joins: list[list[int]] = []  # the or-join nodes each node leads to
        self.ending: list[int] = []  # rules whose condition ends at each node
        self.equal: list[dict[str, int]] = []  # equality tests under a node, per property
        self.pushes: list[int] = []  # most entries popping a node pushes, for any fact
        self.down: list[int] = []  # most entries on the stack from a node downwards
        self.deep: list[int] = []  # the largest `down` among a node's children
        self.props: set[str] = set()
        self.rules = 0
        self.ok = True
        self._new()
        self.add(ALWAYS)

    def add(self, expr: Mapping[str, Any]) -> None:
        """Add a rule whose condition (its `m` expression) is `expr`."""
        edges: list[tuple[int, int]] = []
        end = self._build(expr, 0, edges)
        self.ending[end] += 1
        self.rules += 1
        self._update(edges)
        self.ok = self.ok and self.rules <= RULES_BUDGET \
            and self.ending[end] <= RULES_PER_NODE_BUDGET \
            and len(self.props) <= PROPERTY_BUDGET and self.down[0] <= STACK_BUDGET \
            and groups(expr) <= GROUP_BUDGET

    def stack(self) -> int:
        """An upper bound of the depth-first stack while any fact is asserted."""
        return self.down[0]

    def fits(self) -> bool:
        return self.ok

    def _new(self) -> int:
        self.kids.append({})
        self.equal.append({})
        self.joins.append([])
        for counts in (self.ending, self.pushes, self.down, self.deep):
            counts.append(0)
        return len(self.kids) - 1

    def _build(self, expr: Mapping[str, Any], parent: int, edges: list[tuple[int, int]]) -> int:
        """Add `expr` under `parent` as rete.c's createAlpha does; return its last node."""
        if "$and" in expr:
            for part in expr["$and"]:
                parent = self._build(part, parent, edges)
            return parent
        if "$or" in expr:
            join = self._new()  # never shared
            for part in expr["$or"]:
                end = self._build(part, parent, edges)
                self.joins[end].append(join)
                self.pushes[end] += 1
                self.ok = self.ok and len(self.joins[end]) <= JOIN_BUDGET
                edges.append((end, join))
            return join
        (key, body), = expr.items()
        op, (prop, value) = (_OPS[key], *body.items()) if key in _OPS else ("eq", (key, body))
        self.props.add(prop)
        test = (prop, op, value)
        child = self.kids[parent].get(test)
        if child is None:  # rete.c's findAlpha shares a test under the same parent
            child = self.kids[parent][test] = self._new()
            self.ok = self.ok and len(self.kids[parent]) <= CHILD_BUDGET
            if op != "eq":
                self.pushes[parent] += 1
            else:  # of the equalities on one property, one holds at most
                seen = self.equal[parent].get(prop, 0)
                self.equal[parent][prop] = seen + 1
                self.pushes[parent] += not seen
        edges.append((parent, child))
        return child

    def _update(self, edges: list[tuple[int, int]]) -> None:
        """Recompute `down` on the nodes a rule touched, children first. Nothing else
        changed: a test is shared only under the same parent and a join belongs to one
        rule, so every ancestor of a touched node was touched too."""
        below: dict[int, list[int]] = {}
        for parent, child in edges:
            below.setdefault(parent, []).append(child)
        order: list[int] = []
        seen: set[int] = set()
        todo: list[tuple[int, bool]] = [(0, False)]
        while todo:  # post-order over the touched nodes
            node, done = todo.pop()
            if done:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                todo.append((node, True))
                todo.extend((child, False) for child in below.get(node, ()))
        down, deep = self.down, self.deep
        for node in order:  # every count only grows as rules are added
            deep[node] = max([deep[node], *(down[c] for c in below.get(node, ()))])
            # popping `node` pushes its children; then one of them is popped in turn
            down[node] = self.pushes[node] + max(0, deep[node] - 1)


def fits(exprs: Sequence[Mapping[str, Any]]) -> bool:
    """Whether rules with these conditions (`m` expressions), registered as one ruleset,
    stay within every native limit."""
    net = Net()
    for expr in exprs:
        net.add(expr)
    return net.fits()


def properties(exprs: Sequence[Mapping[str, Any]]) -> list[str]:
    """The fact properties the rules compare (what a fact for their ruleset carries)."""
    found: set[str] = set()
    todo = list(exprs)
    while todo:
        expr = todo.pop()
        inner = expr.get("$and", expr.get("$or"))
        if inner is not None:
            todo.extend(inner)
            continue
        (key, body), = expr.items()
        found.add(next(iter(body)) if key in _OPS else key)
    return sorted(found - {"kind"})


def _small(expr: Mapping[str, Any]) -> bool:
    """A sure fit without building the network: alone in a ruleset, a rule with T
    comparisons pushes at most 2T + 2 entries (one per edge: T + 1 tests, T or-joins),
    compares at most T properties and ends, with the catch-all rule, at most 2 at a node."""
    return 2 * tests(expr) + 2 <= STACK_BUDGET and groups(expr) <= GROUP_BUDGET


def split(expr: Mapping[str, Any]) -> tuple[str, Any]:
    """A condition as ("part", expr) if it fits a ruleset alone, else as ("all"|"any",
    [pieces]): runs of its conjuncts or alternatives that fit, combined outside the engine."""
    if _small(expr) or fits([expr]):
        return ("part", expr)
    key = "$and" if "$and" in expr else "$or" if "$or" in expr else None
    if key is None:  # a single comparison always fits: see encoding.FieldCode.leaf
        raise ValueError(f"a comparison exceeds the rule engine's limits: {expr}")
    op = key[1:]
    items = list(expr[key])
    pieces: list[tuple[str, Any]] = []
    start = 0
    while start < len(items):
        rest = items[start:]

        def fit(k: int, rest: list[Any] = rest) -> bool:
            return fits([combine(op, rest[:k])])

        n = _bisect(0, len(rest) + 1, fit)
        pieces.append(("part", combine(op, rest[:n])) if n else split(rest[0]))
        start += max(n, 1)
    return ("all" if op == "and" else "any", pieces)


def pack(exprs: Sequence[Mapping[str, Any]]) -> list[range]:
    """Consecutive runs of rules (conditions that each fit alone), each run fitting one
    ruleset: every run is as long as it can be."""
    out: list[range] = []
    start = 0
    while start < len(exprs):
        net = Net()
        end = start
        while end < len(exprs):
            net.add(exprs[end])
            if not net.fits():
                break
            end += 1
        end = max(end, start + 1)
        out.append(range(start, end))
        start = end
    return out


def _bisect(good: int, bad: int, ok: Callable[[int], bool]) -> int:
    """The largest n with good <= n < bad and ok(n), for ok true up to some n, false
    after (ok(good) is taken as true, ok(bad) as false)."""
    while bad - good > 1:
        mid = (good + bad) // 2
        good, bad = (mid, bad) if ok(mid) else (good, mid)
    return good
