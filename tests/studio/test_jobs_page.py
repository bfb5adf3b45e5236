"""My jobs: every job of mine findable, filtered by status, paged; cancel, retry and edit."""

import html
import re
from urllib.parse import unquote

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from generation import lifecycle
from generation.models import Job
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def _failed(user, **params):
    job = make_job(user, run=False, **params)
    lifecycle.job_fail(job=job, code="upstream_error", message="The image service had an error.")
    return job


def _ids(response) -> set[str]:
    page = response.content.decode()
    return {str(job.public_id) for job in Job.objects.all() if f'id="job-{job.public_id}"' in page}


def test_my_jobs_lists_every_state_with_words_and_the_failure_reason(owner, owner_client):
    done, queued, failed = make_job(owner), make_job(owner, run=False), _failed(owner)
    canceled = lifecycle.job_cancel(job=make_job(owner, run=False))
    response = owner_client.get(reverse("job-list"))
    assert _ids(response) == {str(j.public_id) for j in (done, queued, failed, canceled)}
    page = response.content.decode()
    assert "The image service had an error." in page and "retry in a minute" in page
    for word in ("Succeeded", "Queued", "Failed", "Canceled"):
        assert word in page


def test_status_filters(owner, owner_client):
    done, failed = make_job(owner), _failed(owner)
    queued = make_job(owner, run=False)
    assert _ids(owner_client.get(reverse("job-list"), {"status": "failed"})) == {
        str(failed.public_id)
    }
    assert _ids(owner_client.get(reverse("job-list"), {"status": "active"})) == {
        str(queued.public_id)
    }
    assert str(done.public_id) in _ids(owner_client.get(reverse("job-list"), {"status": "x"}))


def test_cursor_paging_reaches_every_job_once(owner, owner_client, monkeypatch, settings):
    settings.QUOTA_CONCURRENT_JOBS = 100
    monkeypatch.setattr("generation.views.jobs.JOBS_PAGE_SIZE", 2)
    jobs = [make_job(owner, run=False, prompt=f"job {i}") for i in range(5)]
    seen, params = [], {}
    for _ in range(10):
        response = owner_client.get(reverse("job-list"), params)
        seen += sorted(_ids(response) - set(seen))
        link = re.search(
            r'href="\?(?:status=[a-z]*&amp;)?cursor=([^"]+)"', response.content.decode()
        )
        if link is None:
            break
        params = {"cursor": unquote(html.unescape(link.group(1)))}
    assert sorted(seen) == sorted(str(j.public_id) for j in jobs)


def test_only_my_own_jobs_even_for_staff(owner, teammate_client, outsider_client, staff_client):
    job = make_job(owner)
    for client in (teammate_client, outsider_client, staff_client):
        assert str(job.public_id) not in _ids(client.get(reverse("job-list")))


def test_anonymous_is_sent_to_sign_in(anonymous_client):
    assert anonymous_client.get(reverse("job-list")).status_code == 302


def test_list_query_count_does_not_grow_with_jobs(owner, owner_client):
    def count():
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get(reverse("job-list")).status_code == 200
        return len(captured)

    make_job(owner)
    few = count()
    for i in range(6):
        make_job(owner, prompt=f"more {i}")
    assert count() == few


def test_owner_retries_a_failed_job_and_it_runs_again(
    owner, owner_client, django_capture_on_commit_callbacks
):
    job = _failed(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("job-retry", args=[job.public_id]), {"next": reverse("job-list")}
        )
    assert response.status_code == 302 and response["Location"] == reverse("job-list")
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED


def test_retry_by_anyone_else_does_nothing(
    owner, teammate_client, outsider_client, staff_client, anonymous_client
):
    job = _failed(owner)
    url = reverse("job-retry", args=[job.public_id])
    assert teammate_client.post(url).status_code == 404
    assert outsider_client.post(url).status_code == 404
    assert anonymous_client.post(url).status_code == 302
    staff_client.post(url)  # staff may look, but not spend the owner's quota
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED


def test_retrying_a_job_that_did_not_fail_says_so(owner, owner_client):
    job = make_job(owner)
    response = owner_client.post(
        reverse("job-retry", args=[job.public_id]), HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 409 and "failed or canceled" in response.json()["error"]


def test_edit_fills_the_create_form_with_the_jobs_settings(owner, owner_client):
    job = _failed(owner, prompt="a teapot whale", size="portrait_16_9", n=3)
    response = owner_client.post(reverse("job-edit", args=[job.public_id]))
    assert response.status_code == 302 and response["Location"] == reverse("generate")
    page = owner_client.get(reverse("generate")).content.decode()
    assert ">a teapot whale</textarea>" in page
    assert 'value="portrait_16_9" id="id_size_3" checked' in page or (
        'value="portrait_16_9"' in page and "checked" in page
    )
    assert outsider_edit_is_404(job)


def outsider_edit_is_404(job) -> bool:
    from django.test import Client

    from tests.factories import make_user

    client = Client()
    client.force_login(make_user("stranger"))
    return client.post(reverse("job-edit", args=[job.public_id])).status_code == 404


def test_cancel_from_the_list_returns_to_it(owner, owner_client):
    job = make_job(owner, run=False)
    response = owner_client.post(
        reverse("job-cancel", args=[job.public_id]),
        {"next": reverse("job-list") + "?status=active"},
    )
    assert response["Location"] == reverse("job-list") + "?status=active"
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED


def test_nav_counts_my_running_jobs_and_the_quota_meter_links_to_them(owner, owner_client):
    make_job(owner, run=False)
    make_job(owner, run=False)
    page = owner_client.get(reverse("gallery")).content.decode()
    assert "(2 running)" in page
    profile = owner_client.get(reverse("profile")).content.decode()
    assert (
        f'<a href="{reverse("job-list")}?status=active">2 of 4 jobs running or queued</a>'
        in profile
    )


def test_a_finished_job_page_offers_the_image_actions(owner, owner_client):
    job = make_job(owner, n=2)
    page = owner_client.get(reverse("job-detail", args=[job.public_id])).content.decode()
    image = job.images.get(index=0)
    for name in ("image-favorite", "image-reseed", "image-use-settings", "image-delete"):
        assert reverse(name, args=[image.public_id]) in page
    assert f'name="next" value="{reverse("job-detail", args=[job.public_id])}"' in page
