"""Small template filters for the generation pages."""

from django import template

register = template.Library()


@register.filter
def label_parts(label) -> tuple[str, str]:
    """'Square HD · 1024×1024' → ('Square HD', '1024×1024'), so the two can sit on two lines."""
    name, _, detail = str(label).partition(" · ")
    return name, detail
