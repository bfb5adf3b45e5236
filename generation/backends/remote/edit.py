"""The remote edit call: where it goes and in which body shape (configuration, not code).

QWEN_IMAGE_EDIT_PATH is the path under QWEN_IMAGE_API_BASE; QWEN_IMAGE_EDIT_BODY the shape:

| shape    | body                                                                             |
|----------|----------------------------------------------------------------------------------|
| `plus`   | JSON {model, prompt, image_urls[1..3], image_size, negative_prompt, seed,          |
|          | num_inference_steps, guidance_scale, num_images: 1, enable_safety_checker,       |
|          | output_format, acceleration}: the hosted qwen-image-edit-plus shape (default)    |
| `single` | the same with `image_url` (one source): qwen-image-edit                          |
| `openai` | multipart `image[]` (each source), `mask` (PNG, transparent = edit here),        |
|          | prompt, n=1, size "WxH", response_format, model, seed and the rest as fields     |

Each source travels as a data URI, or (QWEN_IMAGE_EDIT_SOURCES=signed_url) as a signed URL of
ours that expires after QWEN_IMAGE_EDIT_SOURCE_URL_MAX_AGE seconds; the runner puts those in
the request. The hosted JSON shapes take no mask: the portal keeps every pixel outside the
mask from the source itself (generation.edits.run), so the result honours it either way.
"""

from __future__ import annotations

import base64
import io

from django.conf import settings
from PIL import Image

from generation.backends.base import BackendError, GenerationRequest

SHAPES = ("plus", "single", "openai")


def _data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


def _openai_mask(data: bytes) -> bytes:
    """Our mask (white = edit) in OpenAI's spelling: an RGBA PNG, transparent = edit here."""
    grey = Image.open(io.BytesIO(data)).convert("L")
    rgba = Image.new("RGBA", grey.size, (0, 0, 0, 255))
    rgba.putalpha(grey.point(lambda value: 0 if value >= 128 else 255))
    buffer = io.BytesIO()
    rgba.save(buffer, "PNG")
    return buffer.getvalue()


def edit_call(
    request: GenerationRequest, *, seed: int, api_base: str, model: str, output_format: str
) -> tuple[str, dict]:
    """(url, keyword arguments of httpx's request) for one image of an edit."""
    edit = request.edit
    shape = (settings.QWEN_IMAGE_EDIT_BODY or "plus").strip().lower()
    if shape not in SHAPES:
        raise BackendError(
            f"QWEN_IMAGE_EDIT_BODY must be one of {', '.join(SHAPES)}, not {shape!r}.",
            code="not_configured",
            retryable=False,
        )
    path = settings.QWEN_IMAGE_EDIT_PATH or "/v1/images/generations"
    url = api_base + (path if path.startswith("/") else "/" + path)
    sources = edit.urls if edit.urls else [_data_uri(data) for data in edit.images]
    common = {
        "model": request.model or model,
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "num_inference_steps": request.num_inference_steps,
        "guidance_scale": request.guidance_scale,
        "seed": seed,
        "acceleration": request.acceleration,
        "enable_safety_checker": request.enable_safety_checker,
        "output_format": output_format,
    }
    if shape == "openai":
        files = [
            ("image[]", (f"source-{i}.png", data, "image/png"))
            for i, data in enumerate(edit.images)
        ]
        if edit.mask is not None:
            files.append(("mask", ("mask.png", _openai_mask(edit.mask), "image/png")))
        fields = {
            **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in common.items()},
            "n": "1",
            "size": f"{request.width}x{request.height}",
            "response_format": output_format,
        }
        fields.pop("output_format")
        return url, {"data": fields, "files": files}
    body = {
        **common,
        "image_size": {"width": request.width, "height": request.height},
        "num_images": 1,
    }
    if shape == "single":
        if len(sources) != 1:
            raise BackendError(
                f"The configured edit endpoint (QWEN_IMAGE_EDIT_BODY=single) takes one source "
                f"image; this edit has {len(sources)}.",
                code="bad_request",
                retryable=False,
            )
        body["image_url"] = sources[0]
    else:
        body["image_urls"] = sources
    return url, {"json": body}
