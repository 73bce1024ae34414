"""A template `loyalty validate` accepts cannot exhaust the worker that renders it
(engine/language/template_sandbox.py): what would make a huge value, call an unsafe
callable or loop without bound is refused by the check, and what only data could make
huge fails its rendering with a RenderError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.engagement.templates import Member, RenderError, context, render
from engine.events import DomainEvent
from engine.language.build import engagement
from engine.language.template_check import template_problems
from engine.program import Program

FIELDS = ("before", "after", "cause", "direction")


def _render(retail: Program, text: str, html: str | None = None,
            attributes: dict[str, object] | None = None,
            payload: dict[str, object] | None = None):
    note = engagement({"notifications": {"messages": [{
        "id": "n", "event": "tier.changed",
        "templates": {"en": {"text": text, **({"html": html} if html else {})}}}]}}
                      ).notifications[0]
    event = DomainEvent("e", "tier.changed", "retail", "M-1", datetime(2026, 1, 1, tzinfo=UTC),
                        1, payload or {"before": None, "after": "gold", "cause": "order",
                                       "direction": "up"})
    return render(note, "en", context(event, Member("M-1", attributes=attributes or {}),
                                      retail.model))


@pytest.mark.parametrize("source", [
    "{{ 'x' * 10**9 }}",
    "{{ [1] * 1000000000 }}",
    "{{ 2 ** 100000000 }}",
    "{{ '%0999999999d' % 1 }}",
    "{{ 'x'.center(10**9) }}",
    "{{ 'x'.ljust(999999999) }}",
    "{{ '{:>999999999}'.format(1) }}",
    "{{ 'x' | center(999999999) }}",
    "{{ 'x' | indent(999999999) }}",
    "{{ 'x' | format() }}",
    "{{ lipsum(10000000) }}",
    ("{% set ns = namespace(s='x') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}"
    "{% endfor %}"),
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% macro f(s, n) %}{{ f(s ~ s, n - 1) }}{% endmacro %}{{ f('x', 60) }}",
    "{% call f() %}x{% endcall %}",
    "{{ member | attr('__class__') }}",
    "{% for x in member.attributes %}{{ loop.cycle('a', 'b') }}{% endfor %}",
    "{{ member.attributes.name | safe }}",
])
def test_the_check_refuses_what_could_exhaust_the_renderer(source: str) -> None:
    for html in (False, True):
        assert template_problems(source, FIELDS, html), source


def test_what_stays_allowed() -> None:
    for source in ("{{ payload.after | title }} {{ payload.after.upper() }}",
                   "{% for i in range(3) %}{{ i }}{% endfor %}{{ '-' * 20 }}{{ 2 ** 10 }}",
                   "{{ member.attributes.get('name', 'friend') }} {{ 7 % 3 }}",
                   "{% for k, v in member.attributes.items() %}{{ k }}{% endfor %}"):
        assert template_problems(source, FIELDS) == [], source


def test_data_that_would_make_a_huge_value_fails_the_rendering(retail: Program) -> None:
    with pytest.raises(RenderError, match="at most 10000"):
        _render(retail, "{{ 'x' * member.attributes.n }}", attributes={"n": 10**9})
    with pytest.raises(RenderError, match="bits"):
        _render(retail, "{{ member.attributes.n ** 999999999 }}", attributes={"n": 7})
    with pytest.raises(RenderError, match="range"):
        _render(retail, "{{ range(member.attributes.n) | length }}", attributes={"n": 10**9})


def test_nested_loops_share_one_range_budget(retail: Program) -> None:
    source = ("{% for i in range(member.attributes.n) %}{% for j in range(member.attributes.n) %}"
              "{% endfor %}{% endfor %}")
    assert template_problems(source, FIELDS) == []
    assert _render(retail, source, attributes={"n": 30}).text == ""  # 30 + 30×30 = 930
    with pytest.raises(RenderError, match="in all"):
        _render(retail, source, attributes={"n": 1000})
    # the budget is per rendering: the next message renders again
    assert _render(retail, source, attributes={"n": 30}).text == ""


def test_a_member_attribute_is_escaped_in_an_html_body(retail: Program) -> None:
    out = _render(retail, "{{ member.attributes.name }}",
                  html="<p>{{ member.attributes.name }}</p>",
                  attributes={"name": "<img src=x onerror=alert(1)>"})
    assert out.html == "<p>&lt;img src=x onerror=alert(1)&gt;</p>"
    assert out.text == "<img src=x onerror=alert(1)>"  # plain text is not HTML
