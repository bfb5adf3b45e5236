"""Fixtures of the local backend's tests: a tiny random Qwen-Image pipeline, no network."""

import os
import socket
from types import SimpleNamespace

import pytest

SKIP_REASON = "the [local] extra (torch, diffusers) is not installed: make test-deps installs it"


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    # Set before diffusers imports huggingface_hub, which reads it once.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    pytest.importorskip("torch", reason=SKIP_REASON)
    pytest.importorskip("diffusers", reason=SKIP_REASON)
    pytest.importorskip("peft", reason=SKIP_REASON)
    from tests.generation.tiny_qwen import build_tiny_lora, build_tiny_pipeline

    root = tmp_path_factory.mktemp("tiny-qwen-image")
    return SimpleNamespace(
        model=build_tiny_pipeline(root),
        lora8=build_tiny_lora(root / "lightning" / "8steps.safetensors", seed=1),
        lora4=build_tiny_lora(root / "lightning" / "4steps.safetensors", seed=2),
        root=root,
    )


@pytest.fixture
def no_network(monkeypatch):
    """Loading and inference must not reach out: any non-local connection fails the test."""
    real_connect = socket.socket.connect

    def connect(sock, address):
        if sock.family == socket.AF_UNIX or (
            isinstance(address, tuple) and address[0] in ("127.0.0.1", "::1", "localhost")
        ):
            return real_connect(sock, address)
        raise AssertionError(f"network access attempted: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def local(settings, tiny):
    """The local backend on the tiny pipeline, pinned to the CPU (the same on a CUDA host)."""
    settings.QWEN_IMAGE_BACKEND = "local"
    settings.QWEN_IMAGE_LOCAL_MODEL = str(tiny.model)
    settings.QWEN_IMAGE_LOCAL_ALLOW_DOWNLOAD = False
    settings.QWEN_IMAGE_LOCAL_DEVICE = "cpu"
    settings.QWEN_IMAGE_LIGHTNING_LORA = ""
    settings.QWEN_IMAGE_LIGHTNING_LORA_4STEPS = ""
    settings.GENERATION_MIN_SIDE = 32
    return tiny
