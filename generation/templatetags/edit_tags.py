"""Template tags of the editing includes: lineage and sources as the viewer may see them."""

from django import template

from generation.edits import selectors

register = template.Library()


@register.simple_tag(takes_context=True)
def edit_lineage(context, image):
    """{% edit_lineage image as lineage %}: sources and edits of an image for this viewer."""
    return selectors.edit_lineage(user=context["request"].user, image=image)


@register.simple_tag(takes_context=True)
def edit_sources(context, job):
    """{% edit_sources job as sources %}: the sources of an edit job this viewer may see."""
    sources, _, mask = selectors.edit_sources(user=context["request"].user, job=job)
    return {"images": sources, "mask": mask}
