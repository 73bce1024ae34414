"""Background jobs run on a schedule in the API workers or by `loyalty jobs run`."""
