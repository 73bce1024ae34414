"""`loyalty validate` on the `engagement:` section: schema errors, references, the
fallback locale, and template errors located at their own line of the YAML file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from engine.language.loader import load_sources
from engine.language.validate import validate_path
from engine.language.warnings import program_warnings

ROOT = Path(__file__).resolve().parents[2]

SECTION = """\
engagement:
  milestones:
    - id: tenth_order
      when: {orders: 10}
      reward: {points: 500}
    - id: first_tv
      when: {first_in_category: electronics}
      reward: {reward: REWARD-002}
  alerts:
    points_expiring: {within_days: 30}
  notifications:
    fallback_locale: en
    messages:
      - id: tier_upgrade
        event: tier.changed
        match: {direction: up}
        templates:
          en:
            subject: "Welcome to {{ payload.after }}"
            text: |
              Hello {{ member.id }},
              you are now {{ payload.after }} at {{ program.name }}.
          es:
            text: "Hola {{ member.id }}, ahora eres {{ payload.after }}."
"""


def _program(tmp_path: Path, section: str) -> Path:
    folder = tmp_path / "retail"
    shutil.copytree(ROOT / "rulesets" / "retail", folder)
    (folder / "engagement.yaml").write_text(section, encoding="utf-8")
    return folder


def _problems(tmp_path: Path, section: str) -> list[str]:
    return [f"{e.line}:{e.col}: {e.path}: {e.message}"
            for e in validate_path(_program(tmp_path, section))]


def test_a_valid_section_validates(tmp_path: Path) -> None:
    assert _problems(tmp_path, SECTION) == []


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("you are now {{ payload.after }} at", "you are now {{ payload.aftr }} at",
     ("22:15: $.engagement.notifications.messages[0].templates.en.text: the event does not "
     "provide payload.aftr (its payload: before, after, cause, direction)")),
    ("Hello {{ member.id }},\n", "Hello {{ member.id },\n",
     ("21:15: $.engagement.notifications.messages[0].templates.en.text: template syntax "
     "error: unexpected '}'")),
    ('"Welcome to {{ payload.after }}"', '"Welcome {{ name }}"',
     ("19:22: $.engagement.notifications.messages[0].templates.en.subject: unknown variable "
     "'name' (a template sees event, payload, member, program, unsubscribe_url)")),
    ("event: tier.changed", "event: tier.change",
     "15:16: $.engagement.notifications.messages[0].event: unknown event type 'tier.change'"),
    ("match: {direction: up}", "match: {way: up}",
     ("16:17: $.engagement.notifications.messages[0].match.way: event 'tier.changed' has no "
     "payload field 'way'")),
    ("reward: {reward: REWARD-002}", "reward: {reward: REWARD-2}",
     "8:24: $.engagement.milestones[1].reward.reward: unknown reward 'REWARD-2'"),
    ("fallback_locale: en", "fallback_locale: es-MX",
     ("17:9: $.engagement.notifications.messages[0].templates: no template in the fallback "
     "locale 'es-MX'")),
    ("when: {orders: 10}", "when: {orders: 10, points: 5}",
     ("4:7: $.engagement.milestones[0].when: a milestone's 'when' names exactly one of "
     "orders, spend, points, streak_months, first_in_category (found: orders, points)")),
])
def test_mistakes_are_located(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in SECTION
    assert _problems(tmp_path, SECTION.replace(old, new)) == [expected]


def test_an_alert_the_program_gives_no_occasion_for_is_a_warning() -> None:
    source = ("program: p\nversion: 1\nearning: {base_rate: 1}\nengagement:\n  alerts:\n"
              "    points_expiring: {within_days: 30}\n    reward_affordable: true\n")
    found = program_warnings(load_sources({"p.yaml": source}))
    assert [(w.line, w.code, w.message) for w in found] == [
        (6, "alert_never_raised", ("alert 'points_expiring' is never raised: points never "
         "expire in this program (redemption.expiry)")),
        (7, "alert_never_raised", ("alert 'reward_affordable' is never raised: the program "
         "has no catalog reward"))]
