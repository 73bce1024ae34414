"""Dataclasses of the compiled engine that write their `__init__` out.

mypyc compiles a dataclass's fields, but the `__init__` the dataclass decorator generates
runs as Python; the hot ones (built several times per simulated event or commit) write it
out so that it is compiled too (docs/performance.md). These tests keep each written-out
`__init__` to its class's fields: the same names in the same order (a subclass's after its
base's), the same defaults, a fresh value of each `default_factory` (taken as `None`), and
every field assigned.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
from pathlib import Path

import pytest

from engine.evaluation.outcome import Earn, Usage
from engine.evaluation.state import MemberState
from engine.lifecycle.context import Step
from engine.lifecycle.orders import OrderStep

ROOT = Path(__file__).resolve().parents[2]
FACTORIES = {"list": "[]", "dict": "{}", "set": "set()"}


def _classes() -> dict[str, tuple[Path, ast.ClassDef]]:
    found = {}
    for path in sorted((ROOT / "engine").rglob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and any(
                    "dataclass" in ast.unparse(d) for d in node.decorator_list):
                found[f"{path.relative_to(ROOT)}:{node.name}"] = (path, node)
    return found


CLASSES = _classes()
BY_NAME = {node.name: node for _, node in CLASSES.values()}
WRITTEN = sorted(key for key, (_, node) in CLASSES.items()
                 if any(isinstance(s, ast.FunctionDef) and s.name == "__init__"
                        for s in node.body))


def _fields(node: ast.ClassDef) -> list[tuple[str, ast.expr | None]]:
    inherited: list[tuple[str, ast.expr | None]] = []
    for base in node.bases:
        if isinstance(base, ast.Name) and base.id in BY_NAME:
            inherited += _fields(BY_NAME[base.id])
    own = [(s.target.id, s.value) for s in node.body
           if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
           and not ast.unparse(s.annotation).startswith("ClassVar")]
    return inherited + own


def _expected(value: ast.expr | None) -> tuple[str | None, str | None]:
    """(the parameter's default, the factory's fresh value) a field's value asks for."""
    if value is None:
        return None, None
    if isinstance(value, ast.Call) and ast.unparse(value.func) == "field":
        keywords = {k.arg: k.value for k in value.keywords}
        assert "init" not in keywords, "a field left out of __init__ is not written out here"
        if "default_factory" in keywords:
            factory = ast.unparse(keywords["default_factory"])
            return "None", FACTORIES.get(factory, f"{factory}()")
        return ast.unparse(keywords["default"]), None
    return ast.unparse(value), None


def test_the_hot_dataclasses_write_their_init_out() -> None:
    names = {key.rsplit(":", 1)[1] for key in WRITTEN}
    assert {"Entry", "Outcome", "MemberState", "MemberBook", "Step", "OrderStep",
            "Event", "Earn", "Usage"} <= names


@pytest.mark.parametrize("key", WRITTEN)
def test_a_written_out_init_takes_the_fields(key: str) -> None:
    _, node = CLASSES[key]
    init = next(s for s in node.body if isinstance(s, ast.FunctionDef) and s.name == "__init__")
    params = init.args.args[1:]
    fields = _fields(node)
    assert [p.arg for p in params] == [name for name, _ in fields], key
    assert not init.args.kwonlyargs and init.args.vararg is None and init.args.kwarg is None
    defaults = [None] * (len(params) - len(init.args.defaults)) + [
        ast.unparse(d) for d in init.args.defaults]
    assigned = {ast.unparse(s.targets[0]): ast.unparse(s.value) for s in init.body
                if isinstance(s, ast.Assign) and len(s.targets) == 1}
    for (name, value), default in zip(fields, defaults, strict=True):
        want_default, fresh = _expected(value)
        assert default == want_default, f"{key}: {name} defaults to {default}"
        expected = name if fresh is None else f"{fresh} if {name} is None else {name}"
        assert assigned.get(f"self.{name}") == expected, f"{key}: self.{name}"


@pytest.mark.parametrize("key", WRITTEN)
def test_the_dataclass_still_knows_its_fields(key: str) -> None:
    path, node = CLASSES[key]
    module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
    cls = getattr(module, node.name)
    assert [f.name for f in dataclasses.fields(cls)] == [name for name, _ in _fields(node)]


def test_defaults_are_fresh_and_equal_as_before() -> None:
    assert Earn().lines is not Earn().lines and Earn() == Earn()
    assert Usage(caps_hit=["x"]).caps_hit == ["x"] and Usage().caps == []
    state = MemberState(tier="gold")
    assert state.cap_usage == {} and state.awarded_upgrades == frozenset()
    assert state.cap_usage is not MemberState().cap_usage
    step = OrderStep()
    assert step.changes == [] and step.noted == 0 and step.outcome is None
    assert Step([], [], 3) == Step(noted=3)
    assert repr(Step()) == "Step(changes=[], released=[], noted=0)"


def test_subclasses_of_a_written_out_init_write_theirs_out() -> None:
    """mypyc cannot build a dataclass whose generated __init__ would call its base's
    compiled one: a subclass writes its own out too."""
    written = {key.rsplit(":", 1)[1] for key in WRITTEN}
    for key, (_, node) in CLASSES.items():
        bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
        if bases & written:
            assert node.name in written, key
