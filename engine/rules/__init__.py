"""Rules: the condition language, its compilation to durable-rules, the exact encoding of
facts and the one adapter to the native engine."""
