"""Reads about edits: lineage ("edited from", "edits of") and which inputs a viewer may see.

The rule: a gallery image that was a source is shown only to those who may see that image
(generation.selectors' one visibility rule); an upload, to the edit's owner and staff. Nobody
else ever gets a source's pixels, a URL of it or a hint that it exists.
"""

from dataclasses import dataclass

from django.db.models import Case, Exists, OuterRef, QuerySet, Value, When

from generation.models import EditInput, Image, Job
from generation.selectors import images_visible_to


@dataclass
class EditSourceView:
    """One source as a viewer may see it: the gallery image, or an upload they may see."""

    position: int
    image: Image | None  # a gallery image this viewer may see
    upload: EditInput | None  # an upload this viewer may see (its owner, staff)

    @property
    def width(self) -> int:
        return self.image.width if self.image else self.upload.width

    @property
    def height(self) -> int:
        return self.image.height if self.image else self.upload.height


@dataclass
class EditLineage:
    sources: list[EditSourceView]  # those this viewer may see, first the one edited
    hidden: int  # sources this viewer may not see (counted, never shown)
    mask: EditInput | None  # shown to whoever may see the first source
    edits: list[Image]  # visible edits made from this image, newest first

    @property
    def is_edit(self) -> bool:
        return bool(self.sources or self.hidden)

    @property
    def before(self) -> EditSourceView | None:
        """The picture a before/after view starts from: the edited source, if visible."""
        first = self.sources[0] if self.sources else None
        return first if first is not None and first.position == 0 else None


def _may_see_uploads(user, job: Job) -> bool:
    return user is not None and user.is_authenticated and (user.is_staff or user.pk == job.user_id)


def edit_sources(*, user, job: Job) -> tuple[list[EditSourceView], int, EditInput | None]:
    """(sources the viewer may see, how many they may not, the mask if they may see it) of an
    edit job; empty for a generation."""
    if not job.edit:
        return [], 0, None
    sources: list[EditSourceView] = []
    hidden = 0
    rows = list(job.edit_inputs.order_by("role", "position"))
    picked = [row.source_image_id for row in rows if row.source_image_id]
    visible = {picture.pk: picture for picture in images_visible_to(user).filter(pk__in=picked)}
    uploads_ok = _may_see_uploads(user, job)
    for row in rows:
        if row.role == EditInput.Role.MASK:
            continue
        if row.source_image_id in visible:
            sources.append(EditSourceView(row.position, visible[row.source_image_id], None))
        elif row.source_image_id is None and uploads_ok:
            sources.append(EditSourceView(row.position, None, row))
        else:
            hidden += 1
    mask = None
    if uploads_ok:  # the mask is the owner's drawing, shown where their uploads are
        mask = next((r for r in rows if r.role == EditInput.Role.MASK), None)
    return sources, hidden, mask


def edit_lineage(*, user, image: Image, limit: int = 24) -> EditLineage:
    """The image's sources (if it is an edit) and the edits made from it, as `user` may see
    them; a few queries whatever their number."""
    sources, hidden, mask = edit_sources(user=user, job=image.job)
    edits = edits_of(user=user, image=image, limit=limit)
    return EditLineage(sources=sources, hidden=hidden, mask=mask, edits=edits)


def edits_of(*, user, image: Image, limit: int = 24) -> list[Image]:
    """Images edited from `image` (as any of their sources) that `user` may see."""
    uses = EditInput.objects.filter(job=OuterRef("job"), source_image=image)
    return list(images_visible_to(user).filter(Exists(uses)).order_by("-created_at", "-id")[:limit])


def edit_input_for_viewer(*, user, public_id) -> EditInput:
    """An upload the viewer may see (its edit's owner, staff), else EditInput.DoesNotExist.
    Gallery sources are never served from here: their own image page and files are."""
    row = EditInput.objects.select_related("job").get(public_id=public_id)
    if row.source_image_id is not None and row.role == EditInput.Role.IMAGE:
        raise EditInput.DoesNotExist
    if not _may_see_uploads(user, row.job):
        raise EditInput.DoesNotExist
    return row


def edit_pickable_images(*, user, limit: int = 24) -> QuerySet[Image]:
    """Images the user may pick as sources or references: theirs and those shared with them
    that may be shown (held ones cannot be edited), newest first."""
    mine_first = Case(When(user=user, then=Value(0)), default=Value(1))
    return (
        images_visible_to(user)
        .filter(moderation_state__in=Image.SHOWABLE)
        .order_by(mine_first, "-created_at", "-id")[:limit]
    )
