"""Safety checking of stored images behind a small interface."""

from dataclasses import dataclass
from typing import Protocol

from PIL import Image


@dataclass(frozen=True)
class SafetyResult:
    score: float | None  # 0 (safe) … 1 (unsafe); None when no classifier ran
    flagged: bool


class SafetyChecker(Protocol):
    def check(self, image: Image.Image, *, provider_nsfw: bool | None) -> SafetyResult: ...


class ProviderSignalChecker:
    """Flags only what the provider itself reported as unsafe."""

    def check(self, image: Image.Image, *, provider_nsfw: bool | None) -> SafetyResult:
        return SafetyResult(score=None, flagged=bool(provider_nsfw))


def get_safety_checker() -> SafetyChecker:
    return ProviderSignalChecker()
