"""Backend registry: one instance per process, chosen by QWEN_IMAGE_BACKEND."""

import threading

from django.conf import settings
from django.utils.module_loading import import_string

from generation.backends.base import (
    Backend,
    BackendError,
    Canceled,
    EditRequest,
    GeneratedImage,
    GenerationRequest,
)

__all__ = [
    "Backend",
    "BackendError",
    "Canceled",
    "EditRequest",
    "GeneratedImage",
    "GenerationRequest",
    "backend_defaults",
    "backend_prompt_problem",
    "get_backend",
    "reset_backends",
]

# Parameter defaults of the hosted endpoint (spec/), which the remote and demo backends share.
DEFAULTS = {"num_inference_steps": 30, "guidance_scale": 2.5}

_instances: dict[str, Backend] = {}
_lock = threading.Lock()


def _build(name: str) -> Backend:
    # Test settings only (never config/settings.py) may put a class of their own in place of
    # a backend: {"demo": "tests.fakes.backends.CrashingDemoBackend"}.
    replacement = getattr(settings, "QWEN_IMAGE_TEST_BACKENDS", {}).get(name)
    if replacement:
        return import_string(replacement)()
    # Imported on first use: the local backend pulls in torch, which a web process never needs.
    if name == "demo":
        from generation.backends.demo import DemoBackend

        return DemoBackend()
    if name == "remote":
        from generation.backends.remote import RemoteBackend

        return RemoteBackend.from_settings()
    if name == "local":
        from generation.backends.local import LocalBackend

        return LocalBackend.from_settings()
    if name == "local:edit":
        from generation.backends.local_edit import LocalEditBackend

        return LocalEditBackend.from_settings()
    raise ValueError(f"Unknown backend {name!r}: use remote, local or demo.")


def backend_defaults(name: str | None = None) -> dict:
    """Steps and guidance a job gets when the caller gives none: the model's own on the local
    backend (50 steps, true CFG 4.0), the hosted endpoint's elsewhere."""
    if (name or settings.QWEN_IMAGE_BACKEND) == "local":
        from generation.backends.local.plan import DEFAULTS as LOCAL_DEFAULTS

        return dict(LOCAL_DEFAULTS)
    return dict(DEFAULTS)


def backend_prompt_problem(text: str, *, what: str) -> str | None:
    """Why the active backend would refuse this prompt (too many tokens), checked at
    submission; None when it fits or the backend cannot tell here."""
    if settings.QWEN_IMAGE_BACKEND != "local":
        return None
    from generation.backends.local.prompt import prompt_problem

    return prompt_problem(text, what=what)


def get_backend(name: str | None = None, *, edit: bool = False) -> Backend:
    """The process-wide backend (built lazily, so a forked parent never loads a model).

    `edit`: the one that runs edit jobs. The demo and remote backends edit themselves; the
    local one has its edit pipelines in a backend of their own (local_edit/), built on the
    first edit, sharing the device slot with the text-to-image one."""
    name = name or settings.QWEN_IMAGE_BACKEND
    if edit and name == "local":
        name = "local:edit"
    with _lock:
        if name not in _instances:
            _instances[name] = _build(name)
        return _instances[name]


def reset_backends() -> None:
    with _lock:
        for backend in _instances.values():
            close = getattr(backend, "close", None)
            if close:
                close()
        _instances.clear()
