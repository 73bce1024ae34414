"""Whatever text a ruleset's author writes as a template, the check answers with problems
(never an exception), and a template it accepts renders in the sandbox or fails with a
RenderError naming the notification — never anything else."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.engagement.templates import Member, RenderError, context, render
from engine.events import DomainEvent
from engine.language.build import engagement
from engine.language.template_check import template_problems
from engine.program import Program

FIELDS = ("before", "after", "cause", "direction")
PIECES = st.sampled_from([
    "{{ ", " }}", "{% ", " %}", "{# ", " #}", "payload", ".after", ".before", "member",
    ".id", ".balance", "program", ".name", "event", ".payload", "|title", "|upper", " if ",
    " else ", "for x in ", "endfor", "endif", "x", "'a'", "1", " + ", "[0]", "__class__",
    "\n", "text ", "<b>", "&", "unsubscribe_url", "(", ")", "include", "set y = 2",
])
TEMPLATES = st.one_of(st.text(max_size=60), st.lists(PIECES, max_size=14).map("".join))


@settings(max_examples=300, deadline=None)
@given(TEMPLATES)
def test_the_check_never_raises(source: str) -> None:
    for html in (False, True):
        problems = template_problems(source, FIELDS, html)
        assert all(p.line >= 1 and p.message for p in problems)


@settings(max_examples=200, deadline=None)
@given(TEMPLATES)
def test_an_accepted_template_renders_or_fails_with_a_render_error(
        retail: Program, source: str) -> None:
    if template_problems(source, FIELDS) or template_problems(source, FIELDS, html=True):
        return
    note = engagement({"notifications": {"messages": [{
        "id": "n", "event": "tier.changed",
        "templates": {"en": {"text": source, "html": source}}}]}}).notifications[0]
    event = DomainEvent("e", "tier.changed", "retail", "M-1", datetime(2026, 1, 1, tzinfo=UTC),
                        1, {"before": None, "after": "gold", "cause": "order",
                            "direction": "up"})
    try:
        out = render(note, "en", context(event, Member("M-1"), retail.model))
    except RenderError as exc:
        assert exc.notification == "n"
    else:
        assert isinstance(out.text, str) and isinstance(out.html, str)
