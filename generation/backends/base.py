"""The small interface every backend implements, and the errors it raises."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class GenerationRequest:
    model: str
    prompt: str
    negative_prompt: str
    width: int
    height: int
    num_inference_steps: int
    guidance_scale: float
    acceleration: str
    enable_safety_checker: bool
    # One seed per image: image i must be reproducible on its own from seeds[i].
    seeds: list[int] = field(default_factory=list)


@dataclass
class GeneratedImage:
    data: bytes
    seed: int
    revised_prompt: str = ""
    provider_nsfw: bool | None = None


ProgressCallback = Callable[[float], None]
CancelCheck = Callable[[], bool]
# Called with (index, image) as soon as one image of the request is ready, before the others:
# the runner stores it at once, so the pages can show it while the rest are still drawn.
# Optional: a backend whose generate() takes no `on_image` hands everything over at the end.
ImageCallback = Callable[[int, "GeneratedImage"], None]


class BackendError(Exception):
    """A generation failure. `retryable` faults are retried with backoff up to the attempt cap."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        retryable: bool,
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


class Canceled(Exception):
    """Raised by a backend that noticed the job was canceled between steps."""


class Backend(Protocol):
    name: str

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_progress: ProgressCallback,
        should_cancel: CancelCheck,
        on_image: ImageCallback | None = None,
    ) -> list[GeneratedImage]: ...
