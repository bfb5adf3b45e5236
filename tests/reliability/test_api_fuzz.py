"""Bad input over /v1: schemathesis throws malformed requests at every operation.

Complements tests/config/test_openapi_schema.py (conformance of answers to mostly valid
requests): here the coverage phase walks each schema's boundaries (missing and extra fields,
wrong types, out-of-range and huge numbers, empty and overlong strings, NUL bytes), then the
fuzzing phase generates requests that break the schema on purpose. Every answer must be an
error the client can act on (a 4xx in the documented envelope) or a success, never a 5xx.
The number of generated requests goes into RELIABILITY.md (at least 500 per run).
"""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import content_type_conformance, not_a_server_error

from accounts.keys import api_key_create
from tests.factories import make_job_row, make_user
from tests.reliability import ledger

SUITE = "api_fuzz"
MAX_EXAMPLES = 25  # fuzzing phase, per operation, on top of the coverage cases

schema = schemathesis.openapi.from_wsgi(
    "/v1/openapi.json",
    get_wsgi_application(),
    config=schemathesis.Config.from_dict(
        {
            "phases": {
                "examples": {"enabled": False},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "generation": {"mode": "negative", "max-examples": MAX_EXAMPLES},
        }
    ),
)


@pytest.fixture
def api_headers(transactional_db, settings):
    # Committed rows, so a valid job runs inside its request (Huey is immediate in tests).
    settings.GENERATION_MIN_SIDE = 16
    settings.GENERATION_MAX_SIDE = 256
    settings.GENERATION_MAX_IMAGES_PER_JOB = 2
    settings.QUOTA_CONCURRENT_JOBS = 100_000
    settings.QUOTA_IMAGES_PER_DAY = 1_000_000
    user = make_user("fuzzer")
    make_job_row(user, size="64x48")  # something to list
    _, secret = api_key_create(user=user)
    return {"Authorization": f"Bearer {secret}"}


def _error_envelope(ctx, response, case):
    """4xx answers are the documented envelope with a message a person can read."""
    if 400 <= response.status_code < 500:
        error = response.json()["error"]
        assert isinstance(error["message"], str) and error["message"].strip()
        assert isinstance(error["type"], str)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_malformed_requests_never_get_a_server_error(case, api_headers):
    response = case.call(headers=api_headers)
    ledger.record(SUITE, examples=1, server_errors=int(response.status_code >= 500))
    case.validate_response(
        response,
        checks=[not_a_server_error, content_type_conformance],
        headers=api_headers,
    )
    _error_envelope(None, response, case)


# --- Hostile bodies a schema-driven generator does not write ----------------------------------

HOSTILE_BODIES = {
    "nested 100000 deep": "[" * 100_000 + "]" * 100_000,
    "NaN guidance": '{"prompt": "x", "guidance_scale": NaN}',
    "Infinity guidance": '{"prompt": "x", "guidance_scale": Infinity}',
    "5000-digit seed": '{"prompt": "x", "seed": 1' + "0" * 5000 + "}",
    "1e400 seed": '{"prompt": "x", "seed": 1e400}',
    "1e400 n": '{"prompt": "x", "n": 1e400}',
    "1e400 width": '{"prompt": "x", "size": {"width": 1e400, "height": 16}}',
    "-1e400 steps": '{"prompt": "x", "num_inference_steps": -1e400}',
    "lone surrogate": '{"prompt": "\\ud800"}',
    "huge size string": '{"prompt": "x", "size": "99999999999999999999x16"}',
    "2 MB prompt": '{"prompt": "' + "x" * 2_000_000 + '"}',
    "broken webhook URL": '{"prompt": "x", "webhook_url": "http://[::1"}',
    "not UTF-8": "\udcff\udcfe",
    "three objects": '{"prompt": "x"}' * 3,
    "array": '["prompt", "x"]',
    "null": "null",
}


@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/images/generations", "/v1/collections"])
def test_hostile_bodies_are_refused_with_a_400(path, name, db, settings):
    from django.test import Client

    settings.API_SYNC_WAIT_SECONDS = 0
    _, secret = api_key_create(user=make_user("hostile"))
    body = HOSTILE_BODIES[name].encode("utf-8", "surrogateescape")
    response = Client(raise_request_exception=False).post(
        path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )
    ledger.record(SUITE, examples=1, server_errors=int(response.status_code >= 500))
    assert response.status_code == 400, response.content[:200]
    assert response.json()["error"]["message"]
