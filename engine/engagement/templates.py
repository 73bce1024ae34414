"""Render a notification's message for one member from one domain event.

Templates are jinja2, parsed and rendered in the one sandboxed environment of
engine/language/template_check.py (HTML bodies autoescaped; `loyalty validate` has
checked their syntax and the names they read). The context a template sees is built
here, from the event (envelope and payload, as the event catalog describes them), the
member and the program — and nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Protocol

from jinja2 import Template as JinjaTemplate
from jinja2 import TemplateError

from engine.language.model import Notification, Ruleset, Template
from engine.language.template_check import environment
from engine.language.template_sandbox import rendering_budget

__all__ = ["Member", "RenderError", "Rendered", "context", "render"]


class Event(Protocol):
    """What a template reads of an event (engine.events.DomainEvent has it)."""

    @property
    def id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def program(self) -> str: ...
    @property
    def member_id(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def ruleset_version(self) -> int: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Member:
    """What a template may say about the member it goes to."""

    id: str
    tier: str | None = None
    balance: int = 0
    locale: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str | None
    text: str
    html: str | None


class RenderError(Exception):
    """A template failed at rendering (the validated names were there, a value was not:
    e.g. a payload field that is null where the template does arithmetic on it)."""

    def __init__(self, notification: str, locale: str, part: str, reason: str) -> None:
        super().__init__(f"notification '{notification}' ({locale}, {part}): {reason}")
        self.notification, self.locale, self.part, self.reason = \
            notification, locale, part, reason


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def context(event: Event, member: Member, program: Ruleset,
            unsubscribe_url: str | None = None) -> dict[str, Any]:
    """The names a template sees (engine/language/template_check.py TEMPLATE_NAMES)."""
    payload = {k: _plain(v) for k, v in event.payload.items()}
    return {
        "event": {"id": event.id, "type": event.type, "program": event.program,
                  "member_id": event.member_id, "at": _plain(event.at),
                  "ruleset_version": event.ruleset_version, "payload": payload},
        "payload": payload,
        "member": {"id": member.id, "tier": member.tier, "balance": member.balance,
                   "locale": member.locale, "attributes": dict(member.attributes)},
        "program": {"id": program.program, "name": program.name,
                    "currency": program.currency, "timezone": program.timezone},
        "unsubscribe_url": unsubscribe_url,
    }


@lru_cache(maxsize=4096)
def _compiled(source: str, html: bool) -> JinjaTemplate:
    """A template's source compiled once per process (compiling costs some 20 times the
    rendering; a compiled template renders safely from several threads)."""
    return environment(html).from_string(source)


def _render(source: str | None, html: bool, values: Mapping[str, Any], note: str,
            locale: str, part: str) -> str | None:
    if source is None:
        return None
    try:
        return _compiled(source, html).render(values)
    except TemplateError as exc:
        raise RenderError(note, locale, part, exc.message or type(exc).__name__) from exc


def render(note: Notification, locale: str, values: Mapping[str, Any]) -> Rendered:
    """The message of `note` in `locale` (a locale it has a template for: the planner's
    choice, engine/engagement/plan.py choose_locale) with the `values` of `context`."""
    template: Template = note.templates[locale]
    with rendering_budget():
        subject = _render(template.subject, False, values, note.id, locale, "subject")
        return Rendered(
            subject=None if subject is None else " ".join(subject.split()),
            text=_render(template.text, False, values, note.id, locale, "text") or "",
            html=_render(template.html, True, values, note.id, locale, "html"))
