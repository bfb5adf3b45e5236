import datetime as dt
import io

from django.core.management import call_command
from django.utils import timezone

from generation import lifecycle, runner
from generation.models import Job
from tests.factories import make_params


def test_reap_jobs_command_finishes_a_job_whose_worker_died(owner):
    job = lifecycle.job_create(user=owner, params=make_params(n=2))
    runner.job_claim(job_id=job.pk)  # a worker took it, then was killed: the lease runs out
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    out = io.StringIO()
    call_command("reap_jobs", stdout=out)  # Huey is immediate in tests: the re-run happens now
    assert "requeued=1" in out.getvalue()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.SUCCEEDED, 2)
    assert sorted(job.images.values_list("index", flat=True)) == [0, 1]


def test_reap_jobs_command_leaves_a_live_job_alone(owner):
    job = lifecycle.job_create(user=owner, params=make_params())
    runner.job_claim(job_id=job.pk)
    out = io.StringIO()
    call_command("reap_jobs", stdout=out)
    assert "requeued=0" in out.getvalue()
    job.refresh_from_db()
    assert (job.status, job.attempts) == (Job.Status.RUNNING, 1)
