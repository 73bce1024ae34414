"""Semantic checks of the `engagement:` section, beyond its JSON Schema: unique ids,
references (a milestone's catalog reward, a message's event type and the payload fields
it matches on), a template in the fallback locale for every message, and each template
checked (engine/language/template_check.py) and located at its own line in the YAML file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.errors import RulesetError, format_path
from engine.events import EVENT_TYPES, payload_fields
from engine.language.loader import LoadedRuleset
from engine.language.schema_check import did_you_mean, located
from engine.language.template_check import Problem, template_problems

__all__ = ["engagement_errors"]

Path_ = tuple[str | int, ...]
MESSAGES: Path_ = ("engagement", "notifications", "messages")
PARTS = (("subject", False), ("text", False), ("html", True))


def _items(value: Any) -> Iterator[tuple[int, dict[str, Any]]]:
    if isinstance(value, list):
        yield from ((i, v) for i, v in enumerate(value) if isinstance(v, dict))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class _Check:
    def __init__(self, loaded: LoadedRuleset) -> None:
        self.loaded = loaded
        self.section = _dict(loaded.data.get("engagement"))
        self.errors: list[RulesetError] = []

    def add(self, path: Path_, message: str, hint: str | None = None,
            key: bool = False) -> None:
        self.errors.append(located(self.loaded, path, message, hint, key))

    def unique(self, base: Path_, items: list[tuple[int, dict[str, Any]]]) -> None:
        seen: dict[str, int] = {}
        for index, item in items:
            ident = item.get("id")
            if isinstance(ident, str) and ident in seen:
                self.add((*base, index, "id"), f"duplicate id '{ident}'",
                         f"It is already used by item {seen[ident]}; ids must be unique.")
            elif isinstance(ident, str):
                seen[ident] = index

    def milestones(self) -> None:
        base: Path_ = ("engagement", "milestones")
        items = list(_items(self.section.get("milestones")))
        self.unique(base, items)
        redemption = _dict(self.loaded.data.get("redemption"))
        rewards = [r["id"] for _, r in _items(redemption.get("catalog"))
                   if isinstance(r.get("id"), str)]
        for index, item in items:
            reward = _dict(item.get("reward")).get("reward")
            if isinstance(reward, str) and reward not in rewards:
                self.add((*base, index, "reward", "reward"), f"unknown reward '{reward}'",
                         did_you_mean(reward, rewards, "Catalog rewards: ")
                         or "The program's redemption.catalog has no rewards.")

    def messages(self) -> None:
        notes = _dict(self.section.get("notifications"))
        fallback = notes.get("fallback_locale", "en")
        items = list(_items(notes.get("messages")))
        self.unique(MESSAGES, items)
        types = [name for name, kind in EVENT_TYPES.items() if kind.member]
        for index, item in items:
            path: Path_ = (*MESSAGES, index)
            event = item.get("event")
            fields: tuple[str, ...] | None = None
            if isinstance(event, str) and event not in EVENT_TYPES:
                self.add((*path, "event"), f"unknown event type '{event}'",
                         did_you_mean(event, types, "Event types: "))
            elif isinstance(event, str) and not EVENT_TYPES[event].member:
                self.add((*path, "event"), f"event '{event}' is about the program, not a "
                         "member: no message can be addressed for it",
                         "Subscribe a webhook to it instead (docs/events.md).")
            elif isinstance(event, str):
                fields = payload_fields(event)
                for name in _dict(item.get("match")):
                    if name not in fields:
                        self.add((*path, "match", name),
                                 f"event '{event}' has no payload field '{name}'",
                                 did_you_mean(name, list(fields), "Its fields: "), key=True)
            templates = _dict(item.get("templates"))
            if templates and isinstance(fallback, str) and fallback not in templates:
                self.add((*path, "templates"), f"no template in the fallback locale '{fallback}'",
                         "Every message needs one: members whose locale has none get it.")
            for locale, template in templates.items():
                for part, html in PARTS:
                    source = _dict(template).get(part)
                    if isinstance(source, str):
                        where = (*path, "templates", locale, part)
                        for problem in template_problems(source, fields, html):
                            self.template_error(where, problem)

    def template_error(self, path: Path_, problem: Problem) -> None:
        """`problem` at its own line of the YAML file: a block scalar (`|`, `>`) starts on
        the line after its indicator; a plain or quoted scalar on the indicator's line."""
        file, line, col = self.loaded.position(path)
        lines = self.loaded.sources.get(file, "").splitlines()
        start = lines[line - 1][col - 1:col] if 0 < line <= len(lines) else ""
        if start in ("|", ">"):
            line += problem.line
            text = lines[line - 1] if line <= len(lines) else ""
            col = len(text) - len(text.lstrip()) + 1
        else:
            line += problem.line - 1
        self.errors.append(RulesetError(file, line, col, format_path(path), problem.message,
                                        None))

    def run(self) -> list[RulesetError]:
        if self.section:
            self.milestones()
            self.messages()
        return self.errors


def engagement_errors(loaded: LoadedRuleset) -> list[RulesetError]:
    """The semantic errors of a loaded ruleset's `engagement:` section (unsorted)."""
    return _Check(loaded).run()
