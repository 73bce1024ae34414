"""Loading histories into the store (`loyalty import`): each event through the store functions the API calls, idempotent and resumable."""
