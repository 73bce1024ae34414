"""Message templates: the sandboxed renderer (engine/engagement/templates.py) and the
check `loyalty validate` runs on them (engine/language/template_check.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.engagement.templates import Member, RenderError, context, render
from engine.events import DomainEvent
from engine.language.build import engagement
from engine.language.template_check import template_problems
from engine.program import Program

TIER_FIELDS = ("before", "after", "cause", "direction")


def _event() -> DomainEvent:
    return DomainEvent(id="e-1", type="tier.changed", program="retail", member_id="M-1",
                       at=datetime(2026, 6, 10, 16, tzinfo=UTC), ruleset_version=3,
                       payload={"before": "silver", "after": "gold", "cause": "order",
                                "direction": "up"})


def _note(text: str, html: str | None = None, subject: str = "Welcome to {{ payload.after }}"):
    section = engagement({"notifications": {"messages": [{
        "id": "tier_up", "event": "tier.changed",
        "templates": {"en": {"subject": subject, "text": text,
                             **({"html": html} if html else {})}}}]}})
    return section.notifications[0]


def test_a_message_renders_from_the_event_member_and_program(retail: Program) -> None:
    note = _note("{{ member.id }}: {{ payload.before }} → {{ event.payload.after }} "
                 "at {{ program.name }} ({{ event.ruleset_version }}), {{ member.balance }} pts",
                 html="<p>Hello {{ member.attributes.name }}</p>")
    member = Member("M-1", tier="gold", balance=1200, attributes={"name": "<Ana & Bo>"})
    out = render(note, "en", context(_event(), member, retail.model))
    assert out.subject == "Welcome to gold"
    assert out.text == "M-1: silver → gold at Retail Loyalty (3), 1200 pts"
    assert out.html == "<p>Hello &lt;Ana &amp; Bo&gt;</p>"  # autoescaped


def test_the_sandbox_refuses_unsafe_attribute_access(retail: Program) -> None:
    note = _note("{{ payload.__class__.__mro__ }}")
    with pytest.raises(RenderError) as err:
        render(note, "en", context(_event(), Member("M-1"), retail.model))
    assert "tier_up" in str(err.value) and err.value.part == "text"


def test_a_missing_value_fails_rendering_instead_of_printing_nothing(retail: Program) -> None:
    note = _note("{{ member.attributes.name }}")
    with pytest.raises(RenderError, match="name"):
        render(note, "en", context(_event(), Member("M-1"), retail.model))


def test_a_syntax_error_is_reported_at_its_line() -> None:
    problems = template_problems("Hello\n{{ payload.after }\n", TIER_FIELDS)
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [
        (2, "template syntax error")]


def test_a_payload_field_the_event_does_not_provide_is_an_error() -> None:
    problems = template_problems(
        "{{ payload.after }}\n{% if payload.points %}{{ event.payload.balance }}{% endif %}",
        TIER_FIELDS)
    assert [(p.line, p.message.split(" (")[0]) for p in problems] == [
        (2, "the event does not provide payload.balance"),
        (2, "the event does not provide payload.points")]


def test_unknown_names_and_fields_are_errors_but_local_names_are_not() -> None:
    problems = template_problems(
        "{% set n = payload.after %}{{ n }}{{ customer }}\n{{ member.email }}"
        "{% for k in member.attributes %}{{ k.x }}{% endfor %}", TIER_FIELDS)
    assert [(p.line, p.message.split(" (")[0]) for p in problems] == [
        (1, "unknown variable 'customer'"), (2, "member has no field 'email'")]
    assert template_problems("{{ member.attributes.anything }} {{ program.currency }}",
                             TIER_FIELDS) == []


def test_includes_private_names_and_unknown_filters_are_refused() -> None:
    assert [p.message for p in template_problems("{% include 'other' %}", TIER_FIELDS)] == [
        "a message template cannot include, import or extend another"]
    assert [p.message for p in template_problems("{{ payload['__class__'] }}", TIER_FIELDS)
            if "'_'" in p.message] == [
        "'__class__': names starting with '_' are not readable in a template"]
    assert [p.message for p in template_problems("{{ payload.after | shout }}", TIER_FIELDS)
            ] == ["template syntax error: No filter named 'shout'."]
    assert template_problems("{% for i in range(3) %}{{ i }}{% endfor %}", TIER_FIELDS) == []
