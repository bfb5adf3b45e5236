"""Queues by capability: which Huey queue carries a backend's jobs.

Jobs of the remote and demo backends, webhooks and the periodic tasks share the default queue
(settings.HUEY), which any consumer (`manage.py run_huey`) reads. Local jobs need a GPU and the
model, so they travel on a queue of their own, `<HUEY name>.gpu` on the same storage (a named
queue in the same SQLite file, other keys on the same Redis), which only
`manage.py run_gpu_worker` reads: a consumer without CUDA never sees them.
"""

from functools import cache

from django.conf import settings
from huey.contrib.djhuey import HUEY
from huey.utils import load_class

DEFAULT = "default"
GPU = "gpu"
# The backend of a job → the queue it waits on; every backend not named here: DEFAULT.
CAPABILITY_QUEUES = {"local": GPU}
BACKENDS = ("remote", "demo", "local")


def queue_for(backend: str) -> str:
    return CAPABILITY_QUEUES.get(backend, DEFAULT)


def backends_of(queue: str) -> list[str]:
    return [backend for backend in BACKENDS if queue_for(backend) == queue]


def queue_names() -> list[str]:
    return [DEFAULT, *sorted(set(CAPABILITY_QUEUES.values()))]


@cache
def huey_for(queue: str):
    """The Huey instance of a queue: settings.HUEY's, or a sibling of it with its own name."""
    if queue == DEFAULT:
        return HUEY
    config = dict(settings.HUEY) if isinstance(settings.HUEY, dict) else {}
    config.pop("consumer", None)
    name = config.pop("name", "huey")
    huey_class = load_class(config.pop("huey_class", "huey.RedisHuey"))
    config.update(config.pop("connection", {}))
    config.setdefault("immediate", HUEY.immediate)
    return huey_class(f"{name}.{queue}", **config)


def pending(queue: str) -> int:
    """Messages waiting in the queue's storage (scheduled retries not included)."""
    return huey_for(queue).pending_count()
