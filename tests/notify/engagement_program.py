"""The retail program with an `engagement:` section for the delivery tests: a tier-upgrade
email and webhook in English and Spanish (transactional), a marketing email about expiring
points with the unsubscribe link, quiet hours 22:00–08:00 New York time, and at most one
marketing message a day."""

from __future__ import annotations

from typing import Any

from engine import load_program
from tests.store.helpers import retail_version

ENGAGEMENT = """\
engagement:
  notifications:
    fallback_locale: en
    quiet_hours: {from: "22:00", to: "08:00"}
    frequency_cap: {count: 1, per: day}
    messages:
      - id: tier_upgrade
        event: tier.changed
        match: {direction: up}
        channels: [email, webhook]
        templates:
          en:
            subject: "Welcome to {{ payload.after }}"
            text: "Hello {{ member.id }}, you are now {{ payload.after }} at {{ program.name }}."
            html: "<p>Hello {{ member.id }}, you are now <b>{{ payload.after }}</b>.</p>"
          es:
            subject: "¡Ya eres {{ payload.after }}!"
            text: "Hola {{ member.id }}, ahora eres {{ payload.after }}."
            html: "<p>Hola {{ member.id }}, ahora eres <b>{{ payload.after }}</b>.</p>"
      - id: points_expiring
        event: points.expiring
        kind: marketing
        channels: [email]
        templates:
          en:
            subject: "{{ payload.points }} points expire in {{ payload.days_left }} days"
            text: "Use them before {{ payload.expires_at }}. Unsubscribe: {{ unsubscribe_url }}"
            html: "<p>Use them soon.</p><p><a href=\\"{{ unsubscribe_url }}\\">Unsubscribe</a></p>"
"""


def engagement_sources(version: int = 2) -> dict[str, str]:
    sources = retail_version(version)
    sources["engagement.yaml"] = ENGAGEMENT
    return sources


def engagement_program(version: int = 2) -> Any:
    return load_program(engagement_sources(version))
