"""Simulation: event histories (read and generated), the replay of members' events through
the member lifecycle, partitioned runs, the figures and the report."""
