"""The one adapter to durable-rules 2.0.28. Nothing else imports `durable`.

What it enforces (measured, see the design notes on durable-rules):
- one process-wide lock around every call: the library is not thread-safe;
- a fresh session id per evaluation, deleted in `finally`: at 1,024 live sessions per
  ruleset it raises MemoryError and may then crash, so MemoryError is re-raised as fatal;
- facts, not events: `assert_fact` fires every matching rule, `post` only one;
- exceptions raised inside actions come back in the state, not as exceptions: actions
  only append to a per-evaluation list and the state's `exception` is checked after;
- rulesets cannot be replaced or unregistered and names are global: each compiled
  version registers under a unique name and definitions are copied first;
- numeric error codes are translated into messages;
- every ruleset gets a catch-all rule (`__always__`), so every assertion matches and
  creates its session: deleting a session that an unmatched fact never created crashes
  the native engine (segfault, measured).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any

import durable.engine as _durable

_LOCK = threading.Lock()
_HOST = _durable.Host()
_SESSIONS = itertools.count(1)
_FIRED: list[str] = []
_REGISTERED: set[str] = set()
ALWAYS_RULE = "__always__"

# Error codes seen from the native engine, with what they mean for a ruleset author.
_CODES = {
    "101": "the rule engine ran out of memory (too many live sessions)",
    "102": "an expression in a rule is not supported",
    "201": "a rule condition references an unknown field",
    "302": "too many rules or conditions in one compiled ruleset",
    "303": "too many rules or conditions in one compiled ruleset (split it or simplify conditions)",
    "304": "a rule condition is too deeply nested",
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
        if name in _REGISTERED:
            return
        try:
            _HOST.register_rulesets({name: definition})
        except MemoryError as exc:
            raise EngineFatal(translate(exc)) from exc
        except Exception as exc:  # the native layer raises bare Exception with codes
            raise EngineFailure(translate(exc)) from exc
        _REGISTERED.add(name)


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
        sid = str(next(_SESSIONS))
        message = dict(fact)
        message["sid"] = sid
        del _FIRED[:]
        try:
            state = _HOST.assert_fact(name, message)
        except MemoryError as exc:
            raise EngineFatal(translate(exc)) from exc
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
