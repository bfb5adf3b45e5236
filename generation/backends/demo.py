"""Demo backend: a deterministic picture drawn by Pillow from the seed and prompt, or a visible,
deterministic edit of the sources for an edit job."""

import hashlib
import io
import random
import time

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, ImageOps

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


def draw_edit(
    prompt: str, seed: int, width: int, height: int, sources: list[Image.Image], strength: float
) -> Image.Image:
    """A visible, deterministic edit: the first source at the requested size, tinted and
    posterised by a colour drawn from the seed and prompt, with the references as insets and
    the instruction as a caption. The same inputs always give the same pixels."""
    digest = hashlib.sha256(f"edit:{seed}:{prompt}".encode()).digest()
    rng = random.Random(digest)
    tint = tuple(rng.randrange(256) for _ in range(3))
    base = ImageOps.fit(sources[0].convert("RGB"), (width, height), Image.Resampling.LANCZOS)
    edited = Image.blend(ImageOps.posterize(base, 3), Image.new("RGB", base.size, tint), 0.45)
    image = Image.blend(base, edited, max(0.2, min(1.0, strength)))
    inset = max(16, min(width, height) // 5)
    for index, reference in enumerate(sources[1:]):
        thumb = ImageOps.fit(reference.convert("RGB"), (inset, inset), Image.Resampling.LANCZOS)
        image.paste(thumb, (width - (index + 1) * (inset + 4), 4))
    canvas = ImageDraw.Draw(image, "RGBA")
    font = ImageFont.load_default(size=max(12, height // 24))
    caption = prompt if len(prompt) <= 60 else prompt[:57] + "…"
    canvas.rectangle([0, height - height // 10, width, height], fill=(0, 0, 0, 140))
    canvas.text((width // 40, height - height // 12), caption, fill=(255, 255, 255), font=font)
    canvas.text(
        (width // 40, height // 40), f"demo edit · seed {seed}", fill=(255, 255, 255), font=font
    )
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
        sources = []
        if request.edit is not None:
            sources = [Image.open(io.BytesIO(data)) for data in request.edit.images]
        results = []
        for index, seed in enumerate(request.seeds):
            buffer = io.BytesIO()
            if sources:
                picture = draw_edit(
                    request.prompt,
                    seed,
                    request.width,
                    request.height,
                    sources,
                    request.edit.strength,
                )
            else:
                picture = draw(request.prompt, seed, request.width, request.height)
            picture.save(buffer, "PNG")
            results.append(GeneratedImage(data=buffer.getvalue(), seed=seed))
            if on_image is not None:
                on_image(index, results[-1])
        return results
