"""schemathesis over /v1/openapi.json: generated requests never get a 5xx, and every answer
(the error envelope included) matches the published schema."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.keys import api_key_create
from tests.factories import make_job_row, make_user

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# Loaded once at collection from the in-process WSGI app (the schema needs no database).
schema = schemathesis.openapi.from_wsgi(
    "/v1/openapi.json",
    get_wsgi_application(),
    config=schemathesis.Config.from_dict(
        {
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": False},
                "stateful": {"enabled": False},
            },
            "generation": {"max-examples": 12},
        }
    ),
)


@pytest.fixture
def api_headers(transactional_db, settings):
    # Committed rows, so each job runs (Huey is immediate in tests) inside its request, as a
    # worker would run it: small images keep that quick.
    settings.GENERATION_MAX_SIDE = 512
    settings.GENERATION_MAX_IMAGES_PER_JOB = 2
    settings.QUOTA_CONCURRENT_JOBS = 10_000
    settings.QUOTA_IMAGES_PER_DAY = 100_000
    user = make_user("fuzzer")
    make_job_row(user)  # something to list
    _, secret = api_key_create(user=user)
    return {"Authorization": f"Bearer {secret}"}


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_match_the_schema_and_never_fail(case, api_headers):
    response = case.call(headers=api_headers)
    case.validate_response(response, checks=CHECKS, headers=api_headers)
