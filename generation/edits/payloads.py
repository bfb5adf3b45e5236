"""An edit as the API spells it: the `edit` object of a JSON job, and the error envelope of a
refused input (a 400 naming the input)."""

from core.errors import ApiError
from generation.edits.sources import EditInputError, PreparedEdit, edit_prepare


def edit_error(exc: EditInputError) -> ApiError:
    """A 404 for a gallery image the caller cannot see (or that does not exist: the same
    answer), a 400 for any other refused input."""
    status = 404 if exc.code == "image_not_found" else 400
    return ApiError(status, exc.message, code=exc.code, param=exc.param)


def edit_from_json(user, value) -> PreparedEdit | None:
    """The `edit` of a JSON job ({"images": [<image id | data URI | base64>], "mask": …,
    "strength": …}), checked and normalised."""
    if value is None:
        return None
    try:
        return edit_prepare(
            user=user,
            images=value.images,
            mask=value.mask,
            strength=value.strength,
            param="edit.images",
        )
    except EditInputError as exc:
        if exc.param == "mask":
            exc.param = "edit.mask"
        raise edit_error(exc) from None
