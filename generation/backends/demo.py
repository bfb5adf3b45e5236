"""Demo backend: a deterministic picture drawn by Pillow from the seed and prompt."""

import hashlib
import io
import random
import time

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont

from generation.backends.base import (
    CancelCheck,
    Canceled,
    GeneratedImage,
    GenerationRequest,
    ImageCallback,
    ProgressCallback,
)

DEMO_STEPS = 10


def draw(prompt: str, seed: int, width: int, height: int) -> Image.Image:
    """The same prompt, seed and size always give the same pixels."""
    digest = hashlib.sha256(f"{seed}:{prompt}".encode()).digest()
    rng = random.Random(digest)
    top = tuple(rng.randrange(256) for _ in range(3))
    bottom = tuple(rng.randrange(256) for _ in range(3))
    gradient = Image.linear_gradient("L").resize((width, height))
    image = Image.composite(
        Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), gradient
    )
    canvas = ImageDraw.Draw(image, "RGBA")
    for _ in range(12 + rng.randrange(12)):
        colour = tuple(rng.randrange(256) for _ in range(3)) + (rng.randrange(60, 200),)
        x0, y0 = rng.randrange(width), rng.randrange(height)
        size = rng.randrange(min(width, height) // 12, min(width, height) // 3)
        box = [x0 - size, y0 - size, x0 + size, y0 + size]
        if rng.random() < 0.5:
            canvas.ellipse(box, fill=colour)
        else:
            canvas.rectangle(box, fill=colour)
    font = ImageFont.load_default(size=max(12, height // 24))
    caption = prompt if len(prompt) <= 60 else prompt[:57] + "…"
    canvas.rectangle([0, height - height // 10, width, height], fill=(0, 0, 0, 140))
    canvas.text((width // 40, height - height // 12), caption, fill=(255, 255, 255), font=font)
    canvas.text((width // 40, height // 40), f"demo · seed {seed}", fill=(255, 255, 255), font=font)
    return image


class DemoBackend:
    name = "demo"

    def __init__(self, step_delay: float | None = None) -> None:
        self.step_delay = settings.QWEN_IMAGE_DEMO_STEP_DELAY if step_delay is None else step_delay

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_progress: ProgressCallback,
        should_cancel: CancelCheck,
        on_image: ImageCallback | None = None,
    ) -> list[GeneratedImage]:
        for step in range(DEMO_STEPS):
            if should_cancel():
                raise Canceled()
            if self.step_delay:
                time.sleep(self.step_delay)
            on_progress((step + 1) / DEMO_STEPS)
        results = []
        for index, seed in enumerate(request.seeds):
            buffer = io.BytesIO()
            draw(request.prompt, seed, request.width, request.height).save(buffer, "PNG")
            results.append(GeneratedImage(data=buffer.getvalue(), seed=seed))
            if on_image is not None:
                on_image(index, results[-1])
        return results
