"""Rule test suites: YAML fixtures, cases and scenarios checked against a ruleset."""

from engine.suites.runner import CaseResult, Failure, SuiteResult, discover, run_file, run_paths

__all__ = ["CaseResult", "Failure", "SuiteResult", "discover", "run_file", "run_paths"]
