# Qwen Image Studio: `make run` serves the portal with a worker; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run dev test test-deps test-postgres test-integration lint format browser bench clean \
	reliability reliability-report

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)

# `make run`: gunicorn on $(HOST):$(PORT) plus one Huey consumer (and, with
# QWEN_IMAGE_BACKEND=local, the GPU queue's consumer), static files served by WhiteNoise;
# Ctrl-C stops them all. Django's development server (reloads on edits): `make dev`.
# 3 gthread workers x 2 threads: on two cores three processes keep both busy while one waits
# for SQLite's write lock (bench/submit.py); WEB_CONCURRENCY and GUNICORN_THREADS override.
WEB_CONCURRENCY ?= 3
GUNICORN_THREADS ?= 2
CONSUMER = $(PY) manage.py run_huey --workers 2 --worker-type thread
GPU_CONSUMER = if [ "$$QWEN_IMAGE_BACKEND" = local ]; then $(PY) manage.py run_gpu_worker & GPU_PID=$$!; fi

run: $(STAMP)
	$(PY) manage.py migrate --noinput
	@echo "http://$(HOST):$(PORT)" > $${QWEN_STUDIO_VAR_DIR:-var}/site-url  # CLI links (SITE_URL unset)
	@$(PY) manage.py collectstatic --noinput -v 0
	@rm -rf var/prometheus  # /metrics counters start afresh (docs/production.md)
	@echo "Qwen Image Studio on http://$(HOST):$(PORT)/ (create a user: see README, \"First steps\")"
	@$(CONSUMER) & HUEY_PID=$$!; GPU_PID=; $(GPU_CONSUMER); \
	trap 'kill -INT $$HUEY_PID $$GPU_PID 2>/dev/null; wait $$HUEY_PID $$GPU_PID' EXIT INT TERM; \
	GUNICORN_BIND=$(HOST):$(PORT) WEB_CONCURRENCY=$(WEB_CONCURRENCY) \
	GUNICORN_THREADS=$(GUNICORN_THREADS) GUNICORN_GRACEFUL_TIMEOUT=5 \
	$(VENV)/bin/gunicorn -c config/gunicorn.conf.py

dev: $(STAMP)
	$(PY) manage.py migrate --noinput
	@rm -rf var/prometheus
	@echo "Qwen Image Studio (development server) on http://$(HOST):$(PORT)/"
	@$(CONSUMER) & HUEY_PID=$$!; GPU_PID=; $(GPU_CONSUMER); \
	trap 'kill -INT $$HUEY_PID $$GPU_PID 2>/dev/null; wait $$HUEY_PID $$GPU_PID' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

# Debian's Chromium drives the browser tests (Playwright cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else echo "chromium missing: apt-get install chromium chromium-driver"; fi; }

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# Extra test dependencies: the [local] group for the GPU backend's offline tests. torch goes
# first, pinned, so pip takes the CPU wheel on this machine's disk instead of a CUDA build.
LOCAL_PINS := torch==2.13.0 diffusers==0.42.1 transformers==5.24.0
test-deps: $(STAMP)
	@$(PY) -c 'import sys; from importlib.metadata import version as v; \
	  sys.exit(any(v(p.split("==")[0]).split("+")[0] != p.split("==")[1] for p in sys.argv[1:]) \
	  or not all(v(p) for p in ["accelerate", "safetensors", "peft"]))' $(LOCAL_PINS) 2>/dev/null || { \
	  echo "Installing the [local] group (torch CPU build, diffusers, transformers)"; \
	  $(PY) -m pip install -q torch==2.13.0 && $(PY) -m pip install -q -e ".[dev,local]"; }

test: $(STAMP) browser test-deps lint
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/pytest

# The default suite on PostgreSQL, e.g. against `.ci/services`, less what `make test` already
# ran that does not use the test database: browser tests (e2e) and process-level ones (slow).
# DATABASE_URL=postgres://postgres@127.0.0.1:5433/qwen_suite make test-postgres
test-postgres: $(STAMP) test-deps
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "Set DATABASE_URL=postgres://..."; exit 2;; esac
	DATABASE_CONN_MAX_AGE=0 $(VENV)/bin/pytest -m "not e2e and not integration and not slow"

# The integration suite: gunicorn + two Huey consumers against live PostgreSQL, Redis and S3.
# Start those first: `.ci/services up DIR && source DIR/env` (docs/production.md, "The integration
# suite").
test-integration: $(STAMP)
	$(PY) -m tests.integration

# RELIABILITY.md's figures: every pytest run of tests/reliability (make test included) writes
# var/reliability/last-run.json; `reliability-report` renders it, `reliability` runs first.
reliability: $(STAMP) browser
	$(VENV)/bin/pytest tests/reliability
	$(PY) -m tests.reliability.report

reliability-report: $(STAMP)
	$(PY) -m tests.reliability.report

# `make bench BASE=<git ref>`: the same benchmarks on BASE and on HEAD, side by side
# (bench/compare.py); without BASE, this version alone.
bench: $(STAMP)
	@if [ -n "$(BASE)" ]; then $(PY) -m bench.compare --base $(BASE) $(BENCH_ARGS); \
	else $(PY) -m bench $(BENCH_ARGS); fi

clean:
	rm -rf $(VENV) var
