"""Benchmarks that print where the portal stands, as ratios measured side by side (see README)."""
