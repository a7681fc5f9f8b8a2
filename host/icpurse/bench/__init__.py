"""Benchmarks, one module per measured area (`icpurse bench AREA`); each prints figures and
ratios against a reference measured in the same run, never a pass or fail on time."""
