"""Small template filters for the generation pages."""

from django import template

from generation.models import Image

register = template.Library()


@register.filter
def label_parts(label) -> tuple[str, str]:
    """'Square HD · 1024×1024' → ('Square HD', '1024×1024'), so the two can sit on two lines."""
    name, _, detail = str(label).partition(" · ")
    return name, detail


def _state(image) -> str:
    """The moderation state of an Image or of its JSON payload (the job page's images)."""
    if isinstance(image, dict):
        return image.get("moderation_state", "clear")
    return image.moderation_state


def _held(image) -> bool:
    return _state(image) not in Image.SHOWABLE


@register.simple_tag(takes_context=True)
def held_class(context, image) -> str:
    """' held sensitive' for an image held for review (blurred unless the viewer's profile
    shows sensitive images), ' held' when shown unblurred, '' for a visible image."""
    if not _held(image):
        return ""
    return " held" if context.get("show_sensitive") else " held sensitive"


@register.inclusion_tag("generation/_reveal.html", takes_context=True)
def reveal_button(context, image, compact: bool = False) -> dict:
    """The Show/Blur button over a held image (sensitive.js shows and drives it). `compact`
    for small thumbnails: just "Show"."""
    state = _state(image)
    label = Image.Moderation(state).label if state in Image.Moderation.values else state
    return {
        "held": _held(image),
        "shown": bool(context.get("show_sensitive")),
        "show_label": "Show" if compact else f"{label} · Show",
        "label": label,
    }


@register.filter
def in_set(value, collection) -> bool:
    """`{{ image.pk|in_set:starred }}`: membership test for a set passed in the context."""
    return value in (collection or ())


ASPECT_STEPS = [round(0.25 + 0.05 * i, 2) for i in range(76)]  # 0.25 … 4.00, gallery.css


@register.filter
def aspect_class(image) -> str:
    """`ar-133` for a 4:3 image: the justified grid gives the tile a share of its row in
    proportion to its aspect ratio (a class, since the CSP forbids style attributes)."""
    ratio = image.width / image.height if image.height else 1.0
    step = min(ASPECT_STEPS, key=lambda value: abs(value - ratio))
    return f"ar-{round(step * 100)}"
