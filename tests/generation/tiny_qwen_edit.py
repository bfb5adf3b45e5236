"""A tiny, randomly initialised Qwen-Image-Edit pipeline folder built offline, for the local
edit backend's tests.

The edit pipelines use the text-to-image pipeline's components (built by tiny_qwen.py, the sizes
of diffusers' own fast tests) plus a `processor/` folder (the Qwen2-VL image processor and the
byte-level tokenizer). model_index.json names QwenImageEditPlusPipeline, as the real
Qwen-Image-Edit-2509/2511 folders do; the backend builds its processor itself from
processor/ and tokenizer/ (see generation/backends/local_edit).
"""

import json
from pathlib import Path

from tests.generation.tiny_qwen import build_tiny_pipeline, write_tokenizer

COMPONENTS = ("scheduler", "text_encoder", "tokenizer", "transformer", "vae")


def build_tiny_edit_pipeline(directory: Path, *, text_to_image: Path | None = None) -> Path:
    """Write a QwenImageEditPlusPipeline folder to directory/edit-model (symlinking the
    text-to-image components) and return it."""
    from transformers import Qwen2Tokenizer
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )

    base = text_to_image or build_tiny_pipeline(directory)
    model = directory / "edit-model"
    model.mkdir(parents=True, exist_ok=True)
    for part in COMPONENTS:
        target = model / part
        if not target.exists():
            target.symlink_to(base / part)
    processor = model / "processor"
    Qwen2VLImageProcessorPil().save_pretrained(processor)
    tokenizer = Qwen2Tokenizer.from_pretrained(write_tokenizer(directory / "_edit_tokenizer"))
    tokenizer.save_pretrained(processor)
    index = json.loads((base / "model_index.json").read_text())
    index["_class_name"] = "QwenImageEditPlusPipeline"
    index["processor"] = ["transformers", "Qwen2VLProcessor"]
    (model / "model_index.json").write_text(json.dumps(index, indent=2))
    return model
