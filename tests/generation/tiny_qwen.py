"""A tiny, randomly initialised Qwen-Image pipeline built offline, for the local backend's tests.

The component sizes follow diffusers' own fast tests for QwenImagePipeline. Their tokenizer
comes from the Hub; here a byte-level Qwen2Tokenizer is written from a small vocab.json and
merges.txt instead, so nothing is downloaded.
"""

import json
from pathlib import Path

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
MERGES = ["Ġ t", "h e", "Ġt he", "Ġ a", "Ġ c", "a t", "Ġc at", "i n", "o n", "e r"]


def _byte_alphabet() -> list[str]:
    """GPT-2's byte → printable character table, in byte order of the vocabulary."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    codes, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for code in codes]


def write_tokenizer(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    vocab = {symbol: index for index, symbol in enumerate(_byte_alphabet())}
    for merge in MERGES:
        vocab.setdefault(merge.replace(" ", ""), len(vocab))
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (directory / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(MERGES) + "\n", encoding="utf-8"
    )
    (directory / "tokenizer_config.json").write_text(
        json.dumps(
            {"tokenizer_class": "Qwen2Tokenizer", "additional_special_tokens": SPECIAL_TOKENS[1:]}
        ),
        encoding="utf-8",
    )
    return directory


def build_tiny_pipeline(directory: Path) -> Path:
    """Write a complete QwenImagePipeline folder (a few MB) to `directory`."""
    import torch
    from diffusers import (
        AutoencoderKLQwenImage,
        FlowMatchEulerDiscreteScheduler,
        QwenImagePipeline,
        QwenImageTransformer2DModel,
    )
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration, Qwen2Tokenizer

    tokenizer = Qwen2Tokenizer.from_pretrained(write_tokenizer(directory / "_tokenizer_src"))
    torch.manual_seed(0)
    transformer = QwenImageTransformer2DModel(**TRANSFORMER_CONFIG)
    torch.manual_seed(0)
    vae = AutoencoderKLQwenImage(
        base_dim=24,
        z_dim=4,
        dim_mult=[1, 2, 4],
        num_res_blocks=1,
        temperal_downsample=[False, True],
        latents_mean=[0.0] * 4,
        latents_std=[1.0] * 4,
    )
    ids = dict(zip(SPECIAL_TOKENS, tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS), strict=True))
    torch.manual_seed(0)
    config = Qwen2_5_VLConfig(
        # transformers 5 reads vocab_size (and the special ids) from text_config.
        text_config={
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 2,
            "rope_scaling": {"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            "rope_theta": 1000000.0,
            "vocab_size": len(tokenizer),
            "bos_token_id": ids["<|endoftext|>"],
            "eos_token_id": ids["<|im_end|>"],
        },
        vision_config={
            "depth": 2,
            "hidden_size": 16,
            "intermediate_size": 16,
            "num_heads": 2,
            "out_hidden_size": 16,
        },
        hidden_size=16,
        vocab_size=len(tokenizer),
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
    )
    text_encoder = Qwen2_5_VLForConditionalGeneration(config)
    pipe = QwenImagePipeline(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        tokenizer=tokenizer,
    )
    model_dir = directory / "model"
    pipe.save_pretrained(model_dir)
    return model_dir


TRANSFORMER_CONFIG = {
    "patch_size": 2,
    "in_channels": 16,
    "out_channels": 4,
    "num_layers": 2,
    "attention_head_dim": 16,
    "num_attention_heads": 3,
    "joint_attention_dim": 16,
    "guidance_embeds": False,
    "axes_dims_rope": (8, 4, 4),
}


def build_tiny_lora(path: Path, *, seed: int, **transformer_changes) -> Path:
    """Random (non-zero) LoRA weights for the tiny transformer, saved the way diffusers saves
    (`transformer_changes`: make it for another shape of transformer, a LoRA that won't fit)."""
    import torch
    from diffusers import QwenImagePipeline, QwenImageTransformer2DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    transformer = QwenImageTransformer2DModel(**{**TRANSFORMER_CONFIG, **transformer_changes})
    transformer.add_adapter(
        LoraConfig(
            r=4,
            lora_alpha=4,
            target_modules=["to_q", "to_k", "to_v", "to_out.0"],
            init_lora_weights=False,  # random B too, so the adapter really changes the output
        )
    )
    # Scaled up so the adapter's effect survives 8-bit pixels.
    layers = {
        key: value * 16 if "lora_B" in key else value
        for key, value in get_peft_model_state_dict(transformer).items()
    }
    QwenImagePipeline.save_lora_weights(
        path.parent,
        transformer_lora_layers=layers,
        weight_name=path.name,
    )
    return path
