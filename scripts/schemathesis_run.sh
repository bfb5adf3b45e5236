#!/usr/bin/env bash
# `st run` (schemathesis, all checks, stateful phase included) over /v1 of a real server: the
# default stack of `make run` (runserver + one Huey consumer, SQLite, demo backend) in a
# throwaway var/ folder on 127.0.0.1. Exits with schemathesis' status (0: no failure).
#
#   scripts/schemathesis_run.sh [MAX_TIME_SECONDS] [extra st run options]
#
# docs/development.md, "schemathesis over /v1". tests/reliability/test_schemathesis_run.py runs
# the same checks in-process in `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
ST=${ST:-$(dirname "$PY")/st}
MAX_TIME=${1:-120}
shift || true
PORT=${PORT:-$((20000 + RANDOM % 20000))}
VAR=$(mktemp -d /tmp/qwen-st-XXXXXX)
export QWEN_STUDIO_VAR_DIR=$VAR DJANGO_DEBUG=1 QWEN_IMAGE_BACKEND=demo QWEN_IMAGE_DEMO_STEP_DELAY=0
# Smaller images than the default limits (the schema follows the settings) and a concurrency
# quota that keeps the queue short, so a synchronous request is answered within its wait
# (a quota refusal is a 429, which the checks accept); the run is about the API's contract.
export GENERATION_MAX_SIDE=1024 GENERATION_MAX_IMAGES_PER_JOB=2
export QUOTA_IMAGES_PER_DAY=100000000 QUOTA_CONCURRENT_JOBS=4
export API_SYNC_WAIT_SECONDS=${API_SYNC_WAIT_SECONDS:-60} SITE_URL=http://127.0.0.1:$PORT
export SAFETY_CHECKER=provider DJANGO_LOG_LEVEL=WARNING
# Generated edits with image bytes go without the edit (no generator makes a decodable image).
export SCHEMATHESIS_HOOKS=$PWD/scripts/schemathesis_hooks.py

"$PY" manage.py migrate --noinput >/dev/null
"$PY" manage.py shell -c "
from django.contrib.auth import get_user_model
from accounts.models import Profile
user = get_user_model().objects.create_user('fuzzer', 'fuzzer@example.com', 'x' * 20)
Profile.objects.get_or_create(user=user)
" >/dev/null
KEY=$("$PY" manage.py create_api_key fuzzer --name schemathesis)

"$PY" manage.py run_huey --workers 2 --worker-type thread >"$VAR/huey.log" 2>&1 &
HUEY=$!
"$PY" manage.py runserver "127.0.0.1:$PORT" --noreload >"$VAR/web.log" 2>&1 &
WEB=$!
trap 'kill $WEB $HUEY 2>/dev/null; wait $WEB $HUEY 2>/dev/null; rm -rf "$VAR"' EXIT
"$PY" - "$PORT" <<'WAIT'
import sys, time, urllib.request
for _ in range(300):
    try:
        if urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=2).status == 200:
            break
    except OSError:
        time.sleep(0.2)
WAIT

set +e
"$ST" run "http://127.0.0.1:$PORT/v1/openapi.json" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --header "Authorization: Bearer $KEY" \
  --max-time "$MAX_TIME" \
  --workers 1 \
  --request-timeout 30 \
  --generation-database none \
  --suppress-health-check all \
  --no-color "$@"
STATUS=$?
set -e
if grep -q "Internal Server Error\|Traceback" "$VAR/web.log"; then
  echo "--- server errors in the web log:"
  grep -B2 -A20 "Traceback" "$VAR/web.log" | head -80
fi
exit $STATUS
