"""The compiled engine (engine/native.py): it is what runs, and it answers as the Python does.

mypyc compiles the evaluation, the lifecycle core, the rule-engine encoding and the
simulator's replay from the same source. These tests run the same evaluations and the same
simulation once compiled and once as Python (`LOYALTY_PURE_PYTHON=1`), each in a process of
its own, and compare the answers byte for byte; and check the fallback to Python when an
engine source differs from the one the build compiled.
"""

from __future__ import annotations

import ast
import importlib.machinery
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine import native

ROOT = Path(__file__).resolve().parents[2]
SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]

# Evaluates the shipped example requests and 400 generated carts, explains one of them, and
# replays the small example history and a generated one of every event type: everything it prints must be the same both ways.
SCRIPT = textwrap.dedent("""
    import io, json, sys, tempfile
    from datetime import date
    from pathlib import Path
    sys.path.insert(0, ".")
    from bench.eval_bench import carts
    from engine import evaluate, load_program, native
    from engine.simulation.generate import generate
    from engine.simulation.simulate import simulate

    out = {"compiled": native.compiled()}
    program = load_program("rulesets/retail")
    requests = [json.loads(p.read_text()) for p in sorted(Path("examples/requests").glob("*.json"))]
    requests += carts(400, 11)
    out["results"] = [evaluate(program, r) for r in requests]
    out["explained"] = evaluate(program, requests[0], explain=True)
    with tempfile.TemporaryDirectory() as tmp:
        history, states = Path(tmp, "history.jsonl"), Path(tmp, "states.jsonl")
        with history.open("w") as stream:
            generate(stream, members=150, events=3000, seed=5, start=date(2026, 1, 1),
                     end=date(2026, 12, 31), lifecycle=True)
        for name, path in (("small", "examples/histories/retail-small.jsonl"),
                           ("lifecycle", history)):
            out[name] = simulate(program, path, member_states=states)
            out[name + " states"] = states.read_text()
    print(json.dumps(out, sort_keys=True, default=str))
""")


def _run(pure: bool) -> tuple[bool, str]:
    env = {k: v for k, v in os.environ.items() if k != native.PURE_ENV}
    if pure:
        env[native.PURE_ENV] = "1"
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return '"compiled": true' in done.stdout.partition(",")[0], done.stdout


def test_ci_runs_the_compiled_engine():
    """The install compiles the engine; CI checks that it did, so a build that silently
    fell back to Python cannot pass as the fast one."""
    if os.environ.get("CI") != "true" and not any(
            native._extension(p) for p in native.source_files()):
        pytest.skip("installed with LOYALTY_PURE_PYTHON=1: nothing is compiled")
    assert native.compiled(), "the engine's modules are not running compiled"
    import engine.evaluation.evaluator as evaluator
    assert not evaluator.__file__.endswith(".py")


def test_compiled_and_python_answer_alike():
    compiled, fast = _run(pure=False)
    interpreted, slow = _run(pure=True)
    assert not interpreted
    assert compiled == native.compiled()
    assert fast.replace('"compiled": true', '"compiled": false', 1) == slow


def test_an_engine_source_changed_since_the_build_is_stale(tmp_path):
    (tmp_path / "engine" / "evaluation").mkdir(parents=True)
    earn = tmp_path / "engine" / "evaluation" / "earn.py"
    earn.write_text("X = 1\n")
    (tmp_path / "engine" / "program.py").write_text("Y = 2\n")
    assert native._stale(tmp_path) == ["engine/ (compiled without a record of its sources)"]
    native.write_manifest(tmp_path)
    assert native._stale(tmp_path) == []
    os.utime(earn, (4_000_000_000, 4_000_000_000))  # a file's time alone changes nothing
    assert native._stale(tmp_path) == []
    earn.write_text("X = 3\n")
    (tmp_path / "engine" / "added.py").write_text("")
    assert native._stale(tmp_path) == ["engine/added.py", "engine/evaluation/earn.py"]


def test_the_installed_engine_matches_its_build_record():
    """What this checkout runs compiled was built from exactly these sources."""
    if not native.compiled():
        pytest.skip("the engine is not running compiled")
    assert native._stale() == []


def test_the_python_source_is_imported_although_a_compiled_module_sits_beside_it(tmp_path):
    package = tmp_path / "native_demo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text("VALUE = 'from source'\n")
    (package / f"mod{SUFFIX}").write_bytes(b"not a shared library")
    finder = native._SourceFirst({"native_demo.mod": package / "mod.py"})
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ImportError):  # without the finder, the extension is tried first
            __import__("native_demo.mod")
        sys.modules.pop("native_demo.mod", None)
        sys.meta_path.insert(0, finder)
        try:
            module = __import__("native_demo.mod", fromlist=["VALUE"])
            assert module.VALUE == "from source"
        finally:
            sys.meta_path.remove(finder)
    finally:
        sys.path.remove(str(tmp_path))
        for name in ("native_demo.mod", "native_demo"):
            sys.modules.pop(name, None)


def test_compiled_modules_keep_to_what_mypyc_compiles_faithfully():
    """The rules engine/native.py states for its modules, checked on their source."""
    broken = []
    for path in native.source_files():
        text = path.read_text()
        if "__dict__" in text:
            broken.append(f"{path.name}: reads __dict__ (compiled instances have none)")
        for fn in ast.walk(ast.parse(text)):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            bound: dict[str, set[str]] = {}
            for node in ast.walk(fn):
                if isinstance(node, ast.ExceptHandler) and node.name and node.type:
                    bound.setdefault(node.name, set()).add(ast.unparse(node.type))
            broken += [f"{path.name}:{fn.lineno} {fn.name}: `{name}` binds {sorted(types)}"
                       for name, types in bound.items() if len(types) > 1]
    assert broken == []
