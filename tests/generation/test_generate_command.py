"""manage.py generate: prompts through the same job service, a progress bar, where images went."""

import io

import pytest
from django.core.management import CommandError, call_command

from generation.models import Job

pytestmark = pytest.mark.django_db(transaction=True)  # jobs run when their job commits


def _run(*args, stdin=None, monkeypatch=None):
    out, err = io.StringIO(), io.StringIO()
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    call_command("generate", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_one_prompt_runs_and_prints_where_the_images_are(owner, settings):
    out, err = _run("a red kite", "--user", "owner", "--size", "square", "-n", "2", "--seed", "7")
    job = Job.objects.get()
    assert job.source == Job.Source.CLI and job.user == owner
    assert (job.width, job.height, job.n, job.seed) == (512, 512, 2, 7)
    assert job.status == Job.Status.SUCCEEDED
    for image in job.images.all():
        assert f"{settings.MEDIA_ROOT}/{image.file.name}" in out
        assert f"seed {image.seed}" in out
    assert "/v1/files/" in out
    assert "100% succeeded" in err  # the progress bar's last state


def test_a_file_of_prompts_runs_each_line(owner, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("a kite\n\n# a comment\na boat\n")
    out, _ = _run("--file", str(prompts), "--user", "owner", "--size", "256x256")
    assert sorted(Job.objects.values_list("prompt", flat=True)) == ["a boat", "a kite"]
    assert "[2/2]" in out


def test_prompts_from_stdin(owner, monkeypatch):
    _run(
        "--file",
        "-",
        "--user",
        "owner",
        "--size",
        "square",
        stdin="one\ntwo\n",
        monkeypatch=monkeypatch,
    )
    assert Job.objects.count() == 2


def test_invalid_parameters_stop_before_any_job(owner):
    with pytest.raises(CommandError, match="multiples of 16"):
        _run("x", "--user", "owner", "--size", "300x300")
    assert not Job.objects.exists()


def test_unknown_user_and_missing_prompt_are_clear_errors(owner):
    with pytest.raises(CommandError, match="No user named 'nobody'"):
        _run("x", "--user", "nobody")
    with pytest.raises(CommandError, match="one prompt"):
        _run("--user", "owner")


def test_run_here_runs_the_job_in_the_command(owner, settings, monkeypatch):
    from generation import lifecycle, runner

    calls = []
    real_run = runner.job_run
    monkeypatch.setattr(lifecycle, "job_enqueue", lambda job_pk, delay=0: None)  # no worker
    monkeypatch.setattr(runner, "job_run", lambda **kw: calls.append(kw) or real_run(**kw))
    _run("a kite", "--user", "owner", "--size", "square", "--run-here")
    assert calls and Job.objects.get().status == Job.Status.SUCCEEDED


def test_a_failed_job_makes_the_command_fail(owner, monkeypatch):
    from generation import runner
    from generation.backends import BackendError

    class Refusing:
        name = "refusing"

        def generate(self, request, *, on_progress, should_cancel):
            raise BackendError("Prompt refused.", code="content_policy", retryable=False)

    monkeypatch.setattr(runner, "get_backend", lambda name=None: Refusing())
    with pytest.raises(CommandError, match="1 of 1 jobs did not succeed"):
        _run("x", "--user", "owner")
