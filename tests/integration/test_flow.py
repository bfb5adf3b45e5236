"""Web (gunicorn) → Redis → two consumers → S3 → PostgreSQL, driven as a user would."""

import hashlib
import re
import time
from collections import Counter

import httpx
import pytest
from django.conf import settings

from tests.factories import PASSWORD
from tests.integration.conftest import s3_keys

pytestmark = pytest.mark.integration

JOBS = 30


def wait_finished(public_ids, timeout: float):
    from generation.models import Job

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = list(Job.objects.filter(public_id__in=public_ids))
        if len(jobs) == len(public_ids) and all(job.status in Job.FINISHED for job in jobs):
            return {str(job.public_id): job for job in jobs}
        time.sleep(0.5)
    states = Counter(Job.objects.filter(public_id__in=public_ids).values_list("status", flat=True))
    raise AssertionError(f"jobs still unfinished after {timeout}s: {dict(states)}")


@pytest.fixture(scope="module")
def owner_web(stack, studio_users):
    client = stack.client()
    client.login("owner", PASSWORD)
    return client


@pytest.fixture(scope="module")
def finished_jobs(stack, owner_web, django_db_blocker):
    """30 jobs submitted through the generate form, some with two images, all waited for."""
    ids = [owner_web.generate(prompt=f"lighthouse {i}", n=1 + i % 2) for i in range(JOBS)]
    assert len(set(ids)) == JOBS
    with django_db_blocker.unblock():
        return wait_finished(ids, timeout=150)


def test_many_jobs_all_succeed_and_store_each_image_exactly_once(stack, finished_jobs, live_db):
    from generation.models import Image, Job

    jobs = finished_jobs
    assert Counter(job.status for job in jobs.values()) == {Job.Status.SUCCEEDED: JOBS}
    expected_images = {(job_id, index) for job_id, job in jobs.items() for index in range(job.n)}
    assert len(expected_images) == 45
    images = list(Image.objects.filter(job__public_id__in=jobs).select_related("job"))
    assert sorted((str(image.job.public_id), image.index) for image in images) == sorted(
        expected_images
    )
    # Deterministic names, and exactly those objects in the bucket: nothing written twice under
    # another name, nothing left over.
    expected_keys = {f"images/{job_id}/{index}.png" for job_id, index in expected_images} | {
        f"images/{job_id}/{index}.thumb.webp" for job_id, index in expected_images
    }
    assert {image.file.name for image in images} | {
        image.thumbnail.name for image in images
    } == expected_keys
    assert {key for key in s3_keys("images/") if key.split("/")[1] in jobs} == expected_keys
    # Both consumers took work from the shared queue.
    claims = {
        name: sum(job in jobs for job in re.findall(r"event=claimed job=(\S+)", process.log()))
        for name, process in stack.consumers.items()
    }
    assert claims["scheduler"] > 0 and claims["worker"] > 0, claims
    assert sum(claims.values()) == JOBS, claims


def test_job_status_over_the_web_lists_the_stored_images(finished_jobs, owner_web):
    job_id, job = next((k, v) for k, v in finished_jobs.items() if v.n == 2)
    response = owner_web.get(f"/jobs/{job_id}/status/")
    assert response.status_code == 200
    payload = response.json()
    assert payload["status"] == "succeeded"
    assert len(payload["images"]) == 2


def test_image_file_redirects_to_a_signed_url_of_a_private_s3_object(
    stack, finished_jobs, owner_web, live_db
):
    from generation.models import Image

    image = Image.objects.filter(job__public_id__in=finished_jobs).first()
    response = owner_web.get(f"/images/{image.public_id}/file/")
    assert response.status_code == 302
    url = response.headers["location"]
    endpoint = settings.AWS_S3_ENDPOINT_URL
    assert url.startswith(f"{endpoint}/{settings.AWS_STORAGE_BUCKET_NAME}/{image.file.name}?")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Signature=" in url

    signed = httpx.get(url)
    assert signed.status_code == 200
    assert hashlib.sha256(signed.content).hexdigest() == image.sha256
    assert signed.content.startswith(b"\x89PNG")
    unsigned = httpx.get(url.split("?")[0])
    assert unsigned.status_code == 403  # private object: no signature, no image

    thumbnail = owner_web.get(f"/images/{image.public_id}/thumbnail/")
    assert thumbnail.status_code == 302
    assert httpx.get(thumbnail.headers["location"]).content[8:12] == b"WEBP"


def test_outsider_gets_404_not_a_signed_url(stack, finished_jobs, live_db):
    from generation.models import Image

    image = Image.objects.filter(job__public_id__in=finished_jobs).first()
    outsider = stack.client()
    outsider.login("outsider", PASSWORD)
    assert outsider.get(f"/images/{image.public_id}/file/").status_code == 404
    assert outsider.get(f"/jobs/{image.job.public_id}/status/").status_code == 404


def test_whitenoise_serves_hashed_static_files_for_a_year(owner_web):
    page = owner_web.get("/")
    assert page.status_code == 200
    stylesheet = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', page.text)
    assert stylesheet, "the page should link the hashed (manifest) name"
    response = owner_web.get(stylesheet.group(1))
    assert response.status_code == 200
    assert "max-age=315360000" in response.headers["cache-control"]
    assert response.headers["content-type"].startswith("text/css")


def test_healthz_reaches_postgres_redis_and_s3(stack):
    response = httpx.get(f"{stack.base_url}/healthz")
    assert response.status_code == 200
    body = response.json()
    assert (body["database"], body["queue"], body["storage"]) == ("ok", "ok", "ok")
