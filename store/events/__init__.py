"""Domain events in the store: the transactional outbox (`outbox`), the events of
redemption status changes (`redemptions`), and webhook subscriptions and their delivery
(`webhooks`, `delivery`)."""
