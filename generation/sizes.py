"""Size presets: the hosted endpoint's six and Qwen-Image's native resolutions."""

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SizePreset:
    name: str
    label: str
    width: int
    height: int
    group: str

    @property
    def aspect(self) -> str:
        return f"{self.width}:{self.height}"


PRESETS: dict[str, SizePreset] = {
    p.name: p
    for p in [
        SizePreset("square_hd", "Square HD", 1024, 1024, "hosted"),
        SizePreset("square", "Square", 512, 512, "hosted"),
        SizePreset("portrait_4_3", "Portrait 3:4", 768, 1024, "hosted"),
        SizePreset("portrait_16_9", "Portrait 9:16", 576, 1024, "hosted"),
        SizePreset("landscape_4_3", "Landscape 4:3", 1024, 768, "hosted"),
        SizePreset("landscape_16_9", "Landscape 16:9", 1024, 576, "hosted"),
        SizePreset("native_1_1", "Native 1:1", 1328, 1328, "native"),
        SizePreset("native_16_9", "Native 16:9", 1664, 928, "native"),
        SizePreset("native_9_16", "Native 9:16", 928, 1664, "native"),
        SizePreset("native_4_3", "Native 4:3", 1472, 1104, "native"),
        SizePreset("native_3_4", "Native 3:4", 1104, 1472, "native"),
        SizePreset("native_3_2", "Native 3:2", 1584, 1056, "native"),
        SizePreset("native_2_3", "Native 2:3", 1056, 1584, "native"),
    ]
}
DEFAULT_PRESET = "landscape_4_3"


def preset_for(width: int, height: int) -> str:
    """The preset name matching a size exactly, or "" for a custom size."""
    for preset in PRESETS.values():
        if (preset.width, preset.height) == (width, height):
            return preset.name
    return ""


# --- size "auto" ----------------------------------------------------------------------------

AUTO = "auto"
# What a prompt may say about its shape, checked in this order: an explicit ratio first, then
# words. The aspect is width / height.
_RATIO = re.compile(r"(?<![\d.])(\d{1,2})\s*[:：×xX/]\s*(\d{1,2})(?![\d.])")
_KNOWN_RATIOS = {
    (1, 1),
    (4, 3),
    (3, 4),
    (16, 9),
    (9, 16),
    (3, 2),
    (2, 3),
    (21, 9),
    (9, 21),
    (5, 4),
    (4, 5),
    (2, 1),
    (1, 2),
}
_SHAPE_WORDS: list[tuple[float, re.Pattern]] = [
    (
        16 / 9,
        re.compile(
            r"panoram|widescreen|wide[- ]?angle|ultra[- ]?wide|cinematic|banner|"
            r"全景|宽屏|横幅|电影感",
            re.IGNORECASE,
        ),
    ),
    (
        9 / 16,
        re.compile(
            r"phone wallpaper|mobile wallpaper|story format|full[- ]?length|"
            r"手机壁纸|竖屏|全身",
            re.IGNORECASE,
        ),
    ),
    (
        3 / 4,
        re.compile(
            r"\bportrait\b|\bvertical\b|\btall\b|\bposter\b|book cover|"
            r"\bheadshot\b|肖像|人像|竖版|竖幅|海报|封面",
            re.IGNORECASE,
        ),
    ),
    (4 / 3, re.compile(r"\blandscape\b|\bhorizontal\b|\bwide\b|横版|横向|风景", re.IGNORECASE)),
    (
        1.0,
        re.compile(
            r"\bsquare\b|\bicon\b|\blogo\b|album cover|avatar|"
            r"方形|正方形|图标|头像",
            re.IGNORECASE,
        ),
    ),
]


def aspect_from_text(text: str) -> float | None:
    """The aspect (width / height) a prompt asks for, or None when it says nothing of it."""
    for match in _RATIO.finditer(text or ""):
        width, height = int(match.group(1)), int(match.group(2))
        if (width, height) in _KNOWN_RATIOS:  # "12:45" is a time, not a shape
            return width / height
    for aspect, words in _SHAPE_WORDS:
        if words.search(text or ""):
            return aspect
    return None


def nearest_native(aspect: float, candidates: list[SizePreset] | None = None) -> SizePreset:
    """The native Qwen size (or, given them, one of `candidates`) closest to an aspect, by the
    ratio of ratios so that 2:1 is as far from 1:1 as 1:2."""
    pool = candidates or [p for p in PRESETS.values() if p.group == "native"]
    return min(pool, key=lambda p: abs(math.log((p.width / p.height) / aspect)))


def default_aspect() -> float:
    preset = PRESETS[DEFAULT_PRESET]
    return preset.width / preset.height
