"""Shadow evaluation: a published version evaluated beside the live one on live traffic
(runs.py: start, stop; tap.py: the per-process queue and worker; tally.py: the
aggregates; report.py: the report in the format of `simulate --compare`)."""
