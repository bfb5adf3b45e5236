"""Test machinery that also serves manual runs and the benchmarks: the fake hosted image
endpoint (endpoint.py, `manage.py fake_endpoint`) and backends that misbehave on purpose
(backends.py).

A tiny Django app (label "fakes") so that `manage.py fake_endpoint` works: config/settings.py
installs it only in development (DEBUG, or QWEN_DEV_TOOLS=1) and only where this package is
present. Production code never imports it.
"""
