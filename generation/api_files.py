"""The signed image files behind the API's image URLs: no session, the URL is the capability."""

from ninja import Router

from core.errors import ApiError
from generation.files import image_file_response
from generation.signed_urls import InvalidImageToken, image_for_token

router = Router(tags=["generation"])


@router.get(
    "/files/{token}",
    auth=None,
    include_in_schema=False,
    url_name="signed-image-file",
)
def signed_image_file(request, token: str):
    """The PNG or thumbnail a signed URL names, for whoever holds the URL until it expires."""
    try:
        image, field, _holder = image_for_token(token)
    except InvalidImageToken as exc:
        if exc.expired:
            raise ApiError(403, str(exc), code="url_expired") from None
        raise ApiError(404, str(exc), code="not_found") from None
    # The holder may see the image (image_for_token checked), but a capability URL can leak:
    # it never carries a rejected image, not even one signed for staff (they moderate on the
    # pages, with their session). The format is the one its API caller asked for (stored
    # files stay PNG).
    job = image.job
    return image_file_response(
        image, field, fmt=job.output_format, compression=job.output_compression
    )
