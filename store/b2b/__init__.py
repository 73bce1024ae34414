"""The B2B portal's accounts: companies of a program (`companies`), the account managers
who act for them with a role (`managers`, `principals`) and the managers' personal API
keys (`keys`)."""
