"""Domain events: the catalog of types and payloads (the single source), the event
envelope, and the JSON Schema generated from them. The lifecycle maps its changes to
these (engine/lifecycle/events.py); the store writes them to its outbox."""

from engine.events.catalog import ENVELOPE, EVENT_TYPES, EventType, Field, payload_fields
from engine.events.event import DomainEvent, iso, payload_problems

__all__ = ["ENVELOPE", "EVENT_TYPES", "DomainEvent", "EventType", "Field", "iso",
           "payload_fields", "payload_problems"]
