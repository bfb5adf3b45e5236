"""Size presets: the hosted endpoint's six and Qwen-Image's native resolutions."""

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
