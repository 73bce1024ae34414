"""Engagement: what the ruleset's `engagement:` section does at run time — the
notification planner (plan.py) and the message renderer (templates.py); milestones and
alerts are decided in the lifecycle core with the rule engine's answers."""
