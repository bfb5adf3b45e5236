"""Template context the gallery adds to every page: the undo offer after a delete."""

from gallery.views.trash import UNDO_KEY


def trash_undo(request) -> dict:
    """The pending undo offer (gallery.views.trash.offer_undo), shown once."""
    session = getattr(request, "session", None)
    if session is None or UNDO_KEY not in session:
        return {}
    return {"trash_undo": session.pop(UNDO_KEY)}
