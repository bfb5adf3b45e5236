"""Backends that misbehave on purpose, put in place of a real one by test settings through
QWEN_IMAGE_TEST_BACKENDS (generation/backends/__init__.py)."""

import os

from generation.backends.base import (
    CancelCheck,
    GeneratedImage,
    GenerationRequest,
    ProgressCallback,
)
from generation.backends.demo import DEMO_STEPS, DemoBackend

CRASH_PROMPT = "crash the worker, every time"
CRASH_EXIT_CODE = 70


class CrashingDemoBackend(DemoBackend):
    """The demo backend, except that a job with exactly CRASH_PROMPT kills its worker process
    at its second step, every time: like SIGKILL or the OOM killer, no cleanup, no exception
    (tests/reliability/test_worker_faults.py)."""

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_progress: ProgressCallback,
        should_cancel: CancelCheck,
    ) -> list[GeneratedImage]:
        if request.prompt != CRASH_PROMPT:
            return super().generate(request, on_progress=on_progress, should_cancel=should_cancel)

        def progress_then_crash(fraction: float) -> None:
            on_progress(fraction)
            if fraction >= 2 / DEMO_STEPS:
                os._exit(CRASH_EXIT_CODE)

        return super().generate(
            request, on_progress=progress_then_crash, should_cancel=should_cancel
        )
