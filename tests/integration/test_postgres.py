"""PostgreSQL through DATABASE_URL: persistent connections that survive being cut."""

import httpx
import pytest
from django.db import connection

from tests.factories import PASSWORD
from tests.integration.test_flow import wait_finished

pytestmark = pytest.mark.integration


def _terminate_other_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_processes_reconnect_after_their_database_connections_are_cut(stack, studio_users, live_db):
    from generation.models import Job

    assert connection.vendor == "postgresql"
    web = stack.client()
    web.login("owner", PASSWORD)
    for _ in range(16):  # every web thread opens its persistent connection
        assert httpx.get(f"{stack.base_url}/healthz").status_code == 200
    # As on a database restart or failover: every connection the processes keep is gone.
    assert _terminate_other_connections() > 0
    # The health check before reuse notices it and reconnects, instead of failing a request.
    for _ in range(16):
        response = httpx.get(f"{stack.base_url}/healthz")
        assert response.status_code == 200, response.text
    job_id = web.generate(prompt="after the failover")
    job = wait_finished([job_id], timeout=60)[job_id]
    assert job.status == Job.Status.SUCCEEDED
