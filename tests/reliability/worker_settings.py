"""Settings of the worker-fault suite's processes (consumers, `manage.py reap_jobs`, the job
harness): the real settings, with the demo backend replaced by one that kills its worker for
a job with tests.fakes.backends.CRASH_PROMPT."""

from config.settings import *  # noqa: F403

QWEN_IMAGE_TEST_BACKENDS = {"demo": "tests.fakes.backends.CrashingDemoBackend"}
