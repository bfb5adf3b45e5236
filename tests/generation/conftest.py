"""Fixtures of the generation tests: `use_chat`, the prompt enhancer pointed at a fake chat
endpoint on 127.0.0.1."""

import pytest

from generation.prompts.enhancer import reset_enhancer
from tests.fakes.chat import FakeChat


@pytest.fixture
def use_chat(settings):
    """use_chat(**fake_options) -> FakeChat: the portal's enhancer now talks to it."""
    fakes = []

    def start(**options) -> FakeChat:
        fake = FakeChat(**options).__enter__()
        fakes.append(fake)
        settings.PROMPT_ENHANCER = "chat"
        settings.PROMPT_ENHANCER_BASE_URL = fake.url
        settings.PROMPT_ENHANCER_MODEL = "fake-qwen"
        settings.PROMPT_ENHANCER_API_KEY = "sk-enhancer-test"
        settings.PROMPT_ENHANCER_TIMEOUT = 2.0
        reset_enhancer()
        return fake

    yield start
    for fake in fakes:
        fake.close()
    reset_enhancer()
