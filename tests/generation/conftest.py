"""Fixtures of the local backend's tests: no network, the backend on the tiny pipeline
(`tiny` itself is in tests/conftest.py: the GPU benchmark's smoke test uses it too)."""

import socket

import pytest


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
