"""Benchmarks that print ratios (DESIGN.md, Performance): run one with `python -m bench.<name>`."""
