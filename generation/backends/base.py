"""The small interface every backend implements, and the errors it raises."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class EditRequest:
    """The sources of an edit: normalised PNG bytes, the first is the image edited and the
    others references; `mask` (a grey PNG of the first's size, white = edit here) or None."""

    images: list[bytes]
    mask: bytes | None = None
    strength: float = 1.0
    # Signed, short-lived URLs of the same sources (and mask), for a remote backend told to
    # send URLs rather than data URIs; None otherwise.
    urls: list[str] | None = None
    mask_url: str | None = None


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
    # Set for an edit job (generation.edits): the backend edits these sources instead of
    # drawing from nothing.
    edit: EditRequest | None = field(default=None, repr=False)


@dataclass
class GeneratedImage:
    data: bytes
    seed: int
    revised_prompt: str = ""
    provider_nsfw: bool | None = None


ProgressCallback = Callable[[float], None]
CancelCheck = Callable[[], bool]


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
    ) -> list[GeneratedImage]: ...
