"""Programs and their versioned rulesets: publishing, activation, the compiled-program cache, API keys and the audit log."""
