"""The one adapter to durable-rules 2.0.28. Nothing else imports `durable`.

What it enforces (measured, see the design notes on durable-rules):
- one process-wide lock around every call: the library is not thread-safe;
- no background threads: durable's `Host` starts two timer threads that keep calling
  into the native engine (dispatching queued actions and timers of every ruleset) without
  any lock. We use neither, and they race with our own calls: while an assertion's actions
  run they can take some of them over, so rules are silently missing from the result (a
  fact firing 1,000 rules lost up to 900 of them), or the process segfaults. `_Host` never
  starts them;
- a fresh session id per evaluation, deleted in `finally`: at 1,024 live sessions per
  ruleset it raises MemoryError and may then crash, so MemoryError is fatal: the adapter
  refuses every later call (`EngineFatal`) and tells the hooks registered with
  `on_fatal`, so that a server can replace the process;
- facts, not events: `assert_fact` fires every matching rule, `post` only one;
- exceptions raised inside actions come back in the state, not as exceptions: actions
  only append to a per-evaluation list and the state's `exception` is checked after;
- rulesets cannot be replaced or unregistered and names are global: each compiled
  version registers under a unique name and definitions are copied first;
- numeric error codes are translated into messages;
- every ruleset gets a catch-all rule (`__always__`), so every assertion matches and
  creates its session: deleting a session that an unmatched fact never created crashes
  the native engine (segfault, measured).

The native engine's fixed limits are below (`NativeLimits`); engine/rules/alpha.py models how a
ruleset uses them, and engine/rules/compile.py splits rulesets so that none is ever reached.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import durable.engine as _durable


class _Host(_durable.Host):
    """durable's Host without its dispatch and timer threads (see the module docstring)."""

    def _run(self) -> None:
        pass


class NativeLimits:
    """Fixed sizes compiled into durable-rules 2.0.28 (src/rules of jruizgit/rules)."""

    STACK = 64           # events.c MAX_STACK_SIZE: alpha nodes pending in one assertion (303)
    FACT_PROPERTIES = 255  # state.h MAX_OBJECT_PROPERTIES: a fact's properties, sid/id too (302)
    EXPRESSIONS = 32     # rete.h MAX_SEQUENCE_EXPRESSIONS: and/or markers in one rule (113)
    NODE_CHILDREN = 512  # rules.h NEXT_BUCKET_LENGTH: tests under one alpha node (106)
    NODE_NEXT_LIST = 128  # rules.h NEXT_LIST_LENGTH: or-joins under one alpha node (107)
    NODE_RULES = 256     # rules.h BETA_LIST_LENGTH: rules ending at one alpha node (108)
    ACTIONS = 4096       # rete.c MAX_ACTIONS: rules in one ruleset
    SESSIONS = 1024      # live sessions of one ruleset before MemoryError


_log = logging.getLogger("loyalty.engine")
_LOCK = threading.Lock()
_HOST = _Host()
_SESSIONS = itertools.count(1)
_FIRED: list[str] = []
_REGISTERED: set[str] = set()
_FATAL: list[str] = []  # why the native engine became unusable, once it has
_FATAL_HOOKS: list[Callable[[str], None]] = []
ALWAYS_RULE = "__always__"

# Error codes of the native engine (rules.h), with what they mean for a ruleset author.
_CODES = {
    "101": "the rule engine ran out of memory",
    "106": "too many conditions under one condition in one compiled ruleset",
    "107": "too many alternatives under one condition in one compiled ruleset",
    "108": "too many rules with the same condition in one compiled ruleset",
    "113": "a rule condition has too many all/any groups for the rule engine",
    "302": "a fact has too many fields for the rule engine",
    "303": "too many conditions true at once in one compiled ruleset",
    "304": "too many facts in one rule engine session",
}


class EngineFailure(RuntimeError):
    """The rule engine could not compile or evaluate; the message is for people."""


class EngineFatal(EngineFailure):
    """The native engine is in an unknown state; the worker process must restart."""


def translate(error: BaseException) -> str:
    text = str(error)
    match = re.search(r"(?:error code:?|code)\s*(\d{3})", text)
    if match and match.group(1) in _CODES:
        return f"{_CODES[match.group(1)]} (engine code {match.group(1)})"
    return text or error.__class__.__name__


def on_fatal(hook: Callable[[str], None]) -> None:
    """Call `hook(reason)` once the native engine becomes unusable (at most once each)."""
    _FATAL_HOOKS.append(hook)
    if _FATAL:
        hook(_FATAL[0])


def is_fatal() -> bool:
    return bool(_FATAL)


def _fatal(exc: BaseException) -> EngineFatal:
    """Record that the native engine is unusable; called with _LOCK held."""
    reason = f"the rule engine is unusable in this process: {translate(exc)}"
    if not _FATAL:
        _FATAL.append(reason)
        for hook in _FATAL_HOOKS:
            try:
                hook(reason)
            except Exception:  # noqa: BLE001 - a failing hook must not hide the failure
                _log.exception("a hook of the fatal rule-engine state failed")
    return EngineFatal(reason)


def _check_usable() -> None:
    if _FATAL:
        raise EngineFatal(_FATAL[0])


def _action(rule_id: str) -> Callable[[Any], None]:
    def fire(_context: Any) -> None:
        _FIRED.append(rule_id)
    return fire


def register(name: str, rules: Mapping[str, Mapping[str, Any]]) -> None:
    """Register `rules` ({rule id: {"all": [...]}}) under the globally unique `name`."""
    definition = {ALWAYS_RULE: {"all": [{"m": {"kind": "fact"}}], "run": _action(ALWAYS_RULE)}}
    # Registration mutates definitions: register a private copy. Rule definitions are
    # plain JSON here, and a JSON round trip copies them ~5× faster than copy.deepcopy.
    for rule_id, rule in json.loads(json.dumps(dict(rules))).items():
        definition[rule_id] = {**rule, "run": _action(rule_id)}
    with _LOCK:
        _check_usable()
        if name in _REGISTERED:
            return
        try:
            _HOST.register_rulesets({name: definition})
        except MemoryError as exc:
            raise _fatal(exc) from exc
        except Exception as exc:  # the native layer raises bare Exception with codes
            raise EngineFailure(translate(exc)) from exc
        _REGISTERED.add(name)


_FIRE_CALLS = [0]


def calls() -> int:
    """How many facts this process has asserted: each call leaves a few reference cycles
    behind in the native engine's Python layer (closures of its session), which only the
    cyclic garbage collector frees (engine/simulation/partition.py collects by this count)."""
    return _FIRE_CALLS[0]


def fire(name: str, fact: Mapping[str, Any]) -> list[str]:
    """Assert `fact` in a fresh session of ruleset `name`; return the ids of the rules fired.

    `fact` must carry `"kind": "fact"` (the catch-all rule matches on it) and hold only
    JSON values (it crosses into C as JSON).
    """
    try:
        json.dumps(fact)
    except (TypeError, ValueError) as exc:
        raise EngineFailure(f"fact is not JSON: {exc}") from exc
    with _LOCK:
        _check_usable()
        sid = str(next(_SESSIONS))
        _FIRE_CALLS[0] += 1
        message = dict(fact)
        message["sid"] = sid
        del _FIRED[:]
        try:
            state = _HOST.assert_fact(name, message)
        except MemoryError as exc:
            raise _fatal(exc) from exc
        except Exception as exc:  # the native layer raises bare Exception with codes
            # No session is known to exist: deleting one that was never created crashes
            # the native engine, so it is not attempted.
            raise EngineFailure(translate(exc)) from exc
        # Every assertion matches the catch-all rule, so the session exists: delete it
        # before anything else can fail (sessions past 1,024 per ruleset are fatal).
        _HOST.delete_state(name, sid)
        if isinstance(state, Mapping) and state.get("exception"):
            raise EngineFailure(f"rule action failed: {state['exception']}")
        return [rule for rule in _FIRED if rule != ALWAYS_RULE]
