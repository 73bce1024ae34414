"""The ruleset language: YAML read with positions, JSON Schema and semantic validation,
the typed model, digests and semantic diffs."""
