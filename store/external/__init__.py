"""Programs whose balances live in an external points API: the client, the sagas and the transfer outbox."""
