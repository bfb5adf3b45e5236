"""The objects a gallery view may act on, fetched for the request's user, or Http404.

Every view gets its image, collection or share link here: another user's object is a 404,
never a 403 that tells it exists (linkding's bookmarks/views/access.py).
"""

from django.http import Http404

from core.http import Gone, get_or_404
from gallery import selectors
from gallery.models import Collection, ShareLink
from generation.models import Image
from generation.selectors import image_get_for_user

LINK_GONE = "This link does not exist, has expired or was revoked."


def image_read(request, public_id) -> Image:
    """An image the user may see (anyone may see public ones)."""
    return get_or_404(
        lambda: image_get_for_user(user=request.user, public_id=public_id), "No such image."
    )


def collection_read(request, public_id) -> Collection:
    """A collection the user may see: their own, their team's shared ones, public ones."""
    return get_or_404(
        lambda: selectors.collection_get_for_user(user=request.user, public_id=public_id),
        "No such collection.",
    )


def collection_write(request, public_id) -> Collection:
    """The user's own collection: a teammate who may see it still gets a 404 here."""
    return get_or_404(
        lambda: selectors.collection_get_owned(user=request.user, public_id=public_id),
        "No such collection.",
    )


def collection_chosen(request) -> Collection | None:
    """The user's own collection named by the form's `collection` field; None if it is not."""
    try:
        return collection_write(request, request.POST.get("collection", ""))
    except Http404:
        return None


def share_write(request, public_id) -> ShareLink:
    """A share link the user made (only its maker may revoke it)."""
    return get_or_404(
        lambda: selectors.share_get_for_owner(user=request.user, public_id=public_id),
        "No such share link.",
    )


def share_by_token(token: str) -> ShareLink:
    """The live link for a token, for anyone who holds it. Unknown: 404; revoked or expired:
    410, saying which (the token is unguessable, so saying it existed tells nobody anything)."""
    share = get_or_404(lambda: selectors.share_get_by_token(token=token), LINK_GONE)
    if share.is_revoked:
        raise Gone(
            "revoked",
            f"Its owner revoked this share link on {share.revoked_at:%-d %B %Y}; "
            "it no longer opens.",
        )
    if share.is_expired:
        raise Gone(
            "expired", f"This share link expired on {share.expires_at:%-d %B %Y, %H:%M} UTC."
        )
    return share


def share_image(share: ShareLink, image_id=None, *, message: str = "No such image.") -> Image:
    """The image a link shows: its one image, or `image_id` among a collection's images."""
    if image_id is None and not share.image_id:
        raise Http404(message)
    return get_or_404(lambda: selectors.share_image_get(share=share, public_id=image_id), message)
