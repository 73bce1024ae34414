"""Shadow evaluation: a published version evaluated beside the live one on live traffic
(runs.py: start, stop; tap.py: a server process's bounded queue to its shadow process;
worker.py: the shadow process; evaluator.py: one shadow evaluation; tally.py: the
aggregates; report.py: the report in the format of `simulate --compare`)."""
