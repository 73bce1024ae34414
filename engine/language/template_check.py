"""Message templates of the `engagement:` section: the one sandboxed jinja2 environment
they are parsed and rendered with, and the check `loyalty validate` runs on each.

A template sees four names (`TEMPLATE_NAMES`): `event` (the envelope: id, type, program,
member_id, at, ruleset_version, payload), `payload` (the event's payload, the fields the
event catalog lists for its type), `member` (id, tier, balance, locale, attributes) and
`program` (id, name, currency, timezone); marketing messages also get `unsubscribe_url`.
The check parses the template (a syntax error is reported at its line) and walks its
syntax tree: a name outside these, or a payload field the event type does not provide,
is an error — it would fail when the message is rendered, long after publishing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

from jinja2 import TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError

from engine.language.template_sandbox import MAX_RANGE, SAFE_METHODS, MessageSandbox, guarded

__all__ = ["ENVELOPE", "MEMBER", "PROGRAM", "TEMPLATE_NAMES", "Problem", "environment",
           "template_problems"]

ENVELOPE = ("id", "type", "program", "member_id", "at", "ruleset_version", "payload")
MEMBER = ("id", "tier", "balance", "locale", "attributes")
PROGRAM = ("id", "name", "currency", "timezone")
TEMPLATE_NAMES = ("event", "payload", "member", "program", "unsubscribe_url")


@cache
def environment(html: bool) -> MessageSandbox:
    """The sandboxed environment of message templates (engine/language/template_sandbox.py):
    HTML bodies are autoescaped, subjects and text bodies are not; an undefined name fails
    the rendering."""
    return MessageSandbox(html)


@dataclass(frozen=True)
class Problem:
    line: int  # 1-based, in the template's text
    message: str


def _attribute(node: nodes.Node) -> str | None:
    """The attribute or constant key `node` reads (`x.a`, `x['a']`), else None."""
    if isinstance(node, nodes.Getattr):
        return node.attr
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) \
            and isinstance(node.arg.value, str):
        return node.arg.value
    return None


def _root(node: nodes.Node) -> tuple[str, list[str]] | None:
    """For `a.b['c'].d`: ("a", ["b", "c", "d"]); None when the chain starts elsewhere.
    A step that is not a name (`x[i]`, `x[:10]`) cuts the chain: only what is before it
    is known (`payload.expires_at[:10]` reads payload.expires_at)."""
    steps: list[str] = []
    while isinstance(node, (nodes.Getattr, nodes.Getitem)):
        step = _attribute(node)
        if step is None:
            steps = []
        else:
            steps.append(step)
        node = node.node
    return (node.name, steps[::-1]) if isinstance(node, nodes.Name) else None


def _outermost(tree: nodes.Template) -> Iterator[nodes.Node]:
    """Each attribute chain once, at its outermost node (`a.b.c`, not also `a.b`)."""
    inner: set[int] = set()
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if id(node) not in inner:
            yield node
        child: nodes.Node = node
        while isinstance(child, (nodes.Getattr, nodes.Getitem)):
            child = child.node
            inner.add(id(child))


def _local_names(tree: nodes.Template) -> set[str]:
    """Names the template assigns itself (`set`, `for`, macro arguments)."""
    return {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}


def _constant(node: nodes.Node) -> object:
    """The value of an expression of constants (`'x' * 10**9`), computed with the
    sandbox's limits (a `SecurityError` past them); `_constant` itself when it is not."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, nodes.Neg):
        value = _constant(node.node)
        return -value if isinstance(value, int) else _constant
    if isinstance(node, nodes.BinExpr):
        left, right = _constant(node.left), _constant(node.right)
        if left is _constant or right is _constant:
            return _constant
        try:
            return guarded(node.operator, left, right)
        except (ArithmeticError, TypeError, ValueError):
            return _constant
    return _constant


def _unbounded(tree: nodes.Template) -> Iterator[Problem]:
    """What would let the template exhaust the worker that renders it (the limits of
    engine/language/template_sandbox.py, found before publishing)."""
    for block in tree.find_all((nodes.Macro, nodes.CallBlock)):
        yield Problem(block.lineno, "a message template cannot define macros or call blocks")
    for expr in tree.find_all(nodes.BinExpr):
        try:
            _constant(expr)
        except SecurityError as exc:
            yield Problem(expr.lineno, str(exc))
    for call in tree.find_all(nodes.Call):
        callee = call.node
        if isinstance(callee, nodes.Name) and callee.name == "range":
            bounds = [b for b in map(_constant, call.args) if isinstance(b, int)]
            if len(bounds) == len(call.args) and 1 <= len(bounds) <= 3 \
                    and (not bounds[2:] or bounds[2]) and len(range(*bounds)) > MAX_RANGE:
                yield Problem(call.lineno, f"range() of more than {MAX_RANGE} items")
        elif not (isinstance(callee, nodes.Getattr) and callee.attr in SAFE_METHODS):
            yield Problem(call.lineno, "a message template may call only range() and the "
                          f"methods {', '.join(sorted(SAFE_METHODS))}")


def template_problems(source: str, payload_fields: Sequence[str] | None,
                      html: bool = False) -> list[Problem]:
    """What is wrong with one template: its syntax error, or each name and payload field
    it reads that the event does not provide (`payload_fields` None: the type is unknown,
    fields are not checked)."""
    env = environment(html)
    try:
        tree = env.parse(source)
        env.compile(tree)  # unknown filters and tests are found when compiling
    except TemplateSyntaxError as exc:
        return [Problem(exc.lineno or 1, f"template syntax error: {exc.message}")]
    local = _local_names(tree)
    problems: list[Problem] = [
        Problem(node.lineno, "a message template cannot include, import or extend another")
        for node in tree.find_all((nodes.Extends, nodes.Include, nodes.Import,
                                   nodes.FromImport))]
    problems.extend(_unbounded(tree))
    problems.extend(Problem(node.lineno, f"'{step}': names starting with '_' are not "
                            "readable in a template")
                    for node in tree.find_all((nodes.Getattr, nodes.Getitem))
                    if (step := _attribute(node)) is not None and step.startswith("_"))
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in local and name.name not in TEMPLATE_NAMES \
                and name.name not in env.globals:
            problems.append(Problem(name.lineno, f"unknown variable '{name.name}' "
                                    f"(a template sees {', '.join(TEMPLATE_NAMES)})"))
    known = {"event": ENVELOPE, "member": MEMBER, "program": PROGRAM}
    for node in _outermost(tree):
        found = _root(node)
        if found is None or found[0] in local or not found[1]:
            continue
        root, steps = found
        if root == "event" and steps[0] == "payload":
            root, steps = "payload", steps[1:]
        if not steps:
            continue
        if root == "payload":
            if payload_fields is not None and steps[0] not in payload_fields:
                problems.append(Problem(node.lineno, (
                    f"the event does not provide payload.{steps[0]} "
                    f"(its payload: {', '.join(payload_fields) or 'none'})")))
        elif root in known and steps[0] not in known[root]:
            problems.append(Problem(node.lineno, (
                f"{root} has no field '{steps[0]}' (its fields: {', '.join(known[root])})")))
    return sorted(set(problems), key=lambda p: (p.line, p.message))
