"""Benchmarks that print ratios measured side by side (docs/benchmarks.md): `python -m bench`
runs them all, `python -m bench.<name>` one of them."""
