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


@register.simple_tag(takes_context=True)
def reveal_button(context, image, compact: bool = False) -> str:
    """The Show/Blur button over a held image (sensitive.js shows and drives it). `compact`
    for small thumbnails: just "Show". Nothing for a visible image: a grid page asks 48
    times, and rendering the button's template for each cost a fifth of the page."""
    if not _held(image):
        return ""
    state = _state(image)
    label = Image.Moderation(state).label if state in Image.Moderation.values else state
    button = context.template.engine.get_template("generation/_reveal.html")
    return button.render(
        context.new(
            {
                "held": True,
                "shown": bool(context.get("show_sensitive")),
                "show_label": "Show" if compact else f"{label} · Show",
                "label": label,
            }
        )
    )


@register.filter
def in_set(value, collection) -> bool:
    """`{{ image.pk|in_set:starred }}`: membership test for a set passed in the context."""
    return value in (collection or ())


@register.filter
def aspect_class(image) -> str:
    """`ar-135` for a 4:3 image: the justified grid gives the tile a share of its row in
    proportion to its aspect ratio (a class, since the CSP forbids style attributes). Steps
    of 0.05 from 0.25 to 4.00, as gallery.css defines them; arithmetic, no lookup per tile."""
    ratio = image.width / image.height if image.height else 1.0
    step = min(80, max(5, round(ratio * 20)))
    return f"ar-{step * 5}"
