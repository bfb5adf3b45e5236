"""`manage.py run_gpu_worker`: the consumer of local (GPU) jobs, one per GPU.

Before it takes any job it checks what a job would otherwise find out after minutes: the
device (CUDA present, the number valid, bf16), the model's files (complete, readable), room for
the weights, the Lightning files. A problem that no job could get past stops it with exit
status 3 (systemd: RestartPreventExitStatus=3); a Lightning problem is reported and only
accelerated jobs fail. Then it loads the model (unless --no-preload), says what it serves, and
reads the GPU queue with one worker thread: one job at a time on its device. Only it reads
that queue, so a consumer without a GPU never runs a local job.

    CUDA_VISIBLE_DEVICES=0 QWEN_IMAGE_BACKEND=local python manage.py run_gpu_worker
    python manage.py run_gpu_worker --check      # the checks only, then exit
"""

import fcntl
import logging
import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from generation.backends import BackendError, get_backend
from generation.backends.local import preflight
from generation.backends.local.device import gib
from generation.consumers.heartbeat import heartbeat_once, heartbeat_stop
from generation.consumers.models import Worker
from generation.queues import GPU, huey_for

logger = logging.getLogger(__name__)
CONFIG_ERROR = 3  # exit status of a configuration no restart can fix


class Command(BaseCommand):
    help = "Run the consumer of local GPU jobs (checks the model and device first)."

    def add_arguments(self, parser):
        parser.add_argument("--check", action="store_true", help="only check, then exit")
        parser.add_argument(
            "--no-preload", action="store_true", help="load the model on the first job instead"
        )

    def handle(self, *args, check: bool = False, no_preload: bool = False, **options):
        huey = huey_for(GPU)
        if huey.immediate and not check:
            raise CommandError("Huey runs in immediate mode here (tests?): nothing to consume.")
        try:
            backend = get_backend("local")
            report = preflight(backend.config, memory=backend.holder.memory)
        except BackendError as error:
            if not error.retryable:
                raise CommandError(error.message, returncode=CONFIG_ERROR) from None
            self.stderr.write(f"warning: {error.message}")  # the GPU is busy now: start anyway
            report = None
        notes = self._describe(backend, report) + self._check_edits()
        if check:
            return
        lock = _device_lock(report)
        beat = heartbeat_once(
            queue=GPU,
            device=report.description if report else "",
            state=Worker.State.READY if no_preload else Worker.State.LOADING,
        )
        beat.update(state=beat.fields["state"], note=" ".join(notes))
        try:
            if not no_preload:
                self._preload(backend, beat, report)
            consumer_options = dict(settings.HUEY.get("consumer", {}))
            # One thread: a second one would only claim a job to wait on the device lock.
            consumer_options.update(workers=1, worker_type="thread", periodic=False)
            huey.create_consumer(**consumer_options).run()
        finally:
            heartbeat_stop(queue=GPU)
            if lock is not None:
                os.close(lock)

    def _describe(self, backend, report) -> list[str]:
        notes = []
        if report is not None:
            self.stdout.write(f"device: {report.description} ({str(report.dtype)[6:]})")
            weights = f", weights {gib(report.weight_bytes)}" if report.weight_bytes else ""
            self.stdout.write(f"model: {report.files.source}{weights}")
            for adapter, path in report.lightning.items():
                self.stdout.write(f"Lightning {adapter}: {path}")
            for adapter, error in report.lightning_errors.items():
                self.stderr.write(f"warning: Lightning {adapter}: {error.message}")
                notes.append(f"Lightning {adapter} unavailable: {error.message}")
        return notes

    def _check_edits(self) -> list[str]:
        """Edit jobs run here too (QWEN_IMAGE_LOCAL_EDIT_MODEL, loaded on the first edit in
        place of the text-to-image model): the same checks for the edit model. A problem only
        fails edit jobs, so it is a warning."""
        if not (settings.QWEN_IMAGE_LOCAL_EDIT_MODEL or "").strip():
            self.stdout.write("edits: QWEN_IMAGE_LOCAL_EDIT_MODEL not set (edit jobs fail)")
            return []
        try:
            edit = get_backend("local", edit=True)
            report = preflight(edit.config, memory=edit.holder.memory)
        except BackendError as error:
            self.stderr.write(f"warning: edits: {error.message}")
            return [f"Edits unavailable: {error.message}"]
        weights = f", weights {gib(report.weight_bytes)}" if report.weight_bytes else ""
        self.stdout.write(f"edit model: {report.files.source}{weights}")
        return [f"Lightning (edits) {adapter} unavailable" for adapter in report.lightning_errors]

    def _preload(self, backend, beat, report) -> None:
        try:
            backend.pipeline()
        except BackendError as error:
            beat.update(state=Worker.State.FAILED, note=error.message)
            if not error.retryable:
                raise CommandError(error.message, returncode=CONFIG_ERROR) from None
            self.stderr.write(f"warning: {error.message} (jobs will try again)")
            return
        printed = set(report.lightning_errors) if report else set()
        notes = []
        for adapter, error in backend.holder.lightning_errors.items():
            if adapter not in printed:  # found only by loading it (not a LoRA for this model)
                self.stderr.write(f"warning: Lightning {adapter}: {error.message}")
            notes.append(f"Lightning {adapter} unavailable: {error.message}")
        beat.update(state=Worker.State.READY, note=" ".join(notes))
        self.stdout.write("model loaded; taking jobs from the GPU queue")


def _device_lock(report) -> int | None:
    """One consumer per GPU on this host: a second one on the same device would load a second
    copy of the model into it. An advisory lock per device, held while this process lives."""
    if report is None or report.device.type != "cuda":
        return None
    import torch

    properties = torch.cuda.get_device_properties(report.device)
    name = str(getattr(properties, "uuid", "") or report.device).replace(":", "-")
    folder = settings.VAR_DIR / "run"
    folder.mkdir(parents=True, exist_ok=True)
    handle = os.open(folder / f"gpu-{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        raise CommandError(
            f"Another run_gpu_worker on this host already serves {report.description}: run one "
            "per GPU (CUDA_VISIBLE_DEVICES or QWEN_IMAGE_LOCAL_DEVICE).",
            returncode=CONFIG_ERROR,
        ) from None
    return handle
