"""Reward inventory apart from ruleset versions (stock.py)."""
