"""Reports read from what the store recorded: a member's insights and a program's
performance, each from SQL aggregates (GROUP BY) over the ledger and the orders."""
