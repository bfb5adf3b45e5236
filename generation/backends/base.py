"""The small interface every backend implements, and the errors it raises."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class CallMeter(Protocol):
    """Where a backend that makes one upstream call per image reports each call (the runner
    passes usage.ledger.WorkMeter): `call_sending` just before the request leaves, then
    `call_ended` once: `sent` False when it never reached the provider (connection refused),
    `status` the HTTP status of the provider's answer (None without one), `ok` when it
    delivered an image, `stopped` when the call was abandoned (cancel, or a sibling failed)."""

    def call_sending(self, index: int) -> bool: ...

    def call_ended(
        self,
        index: int,
        *,
        sent: bool,
        status: int | None = None,
        ok: bool = False,
        stopped: bool = False,
        code: str = "",
    ) -> None: ...


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
    # Set by the runner for backends with `reports_calls = True` (the usage ledger's meter).
    meter: CallMeter | None = field(default=None, compare=False, repr=False)


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
        sent: bool = True,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        # False when the request never reached the service (connection refused): not billed.
        self.sent = sent


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
