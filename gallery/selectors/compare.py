"""Compare: two to four images side by side, row by row."""

from dataclasses import dataclass

from gallery.selectors.detail import image_params
from generation.models import Image
from generation.selectors import (
    images_visible_to,
)

COMPARE_MIN, COMPARE_MAX = 2, 4
COMPARED = [
    ("prompt", "Prompt"),
    ("negative_prompt", "Negative prompt"),
    ("size", "Size"),
    ("seed", "Seed"),
    ("num_inference_steps", "Steps"),
    ("guidance_scale", "Guidance scale"),
    ("acceleration", "Acceleration"),
    ("backend", "Backend"),
    ("model", "Model"),
]


@dataclass
class CompareRow:
    label: str
    values: list
    differs: bool


def images_for_compare(*, user, public_ids: list) -> list[Image]:
    """The images, in the order asked, that the user may see (unknown ids are dropped).

    Only the first COMPARE_MAX ids count, seen or not: a comparison has at most four columns.
    """
    public_ids = public_ids[:COMPARE_MAX]
    found = {
        image.public_id: image for image in images_visible_to(user).filter(public_id__in=public_ids)
    }
    ordered, seen = [], set()
    for public_id in public_ids:
        image = found.get(public_id)
        if image is not None and image.pk not in seen:
            ordered.append(image)
            seen.add(image.pk)
    return ordered


def image_compare_rows(*, images: list[Image]) -> list[CompareRow]:
    """One row per parameter, side by side; `differs` marks the ones that set them apart."""
    params = [image_params(image) for image in images]
    rows = []
    for key, label in COMPARED:
        values = []
        for item in params:
            value = item.get(key)
            if key == "size":
                value = f"{value['width']}×{value['height']}"
            elif isinstance(value, str):
                value = value.strip()  # the default negative prompt is a single space
            values.append(value)
        rows.append(CompareRow(label=label, values=values, differs=len(set(map(str, values))) > 1))
    return rows
