"""What the operators' web console reads and runs beyond the API's views: a member looked up (members.py) and simulation runs in the background (simulations.py)."""
