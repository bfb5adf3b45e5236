"""Signed, short-lived URLs of an edit job's stored inputs, for a provider that fetches its
sources (QWEN_IMAGE_EDIT_SOURCES=signed_url). Whoever holds one may fetch that one file until
it expires (QWEN_IMAGE_EDIT_SOURCE_URL_MAX_AGE); it names the input by an opaque id and stops
with the job (deleted) or once the job has finished."""

from django.conf import settings
from django.core import signing
from django.urls import reverse

from generation.models import EditInput, Job

_SALT = "generation.edits.signed-input"


class InvalidInputToken(Exception):
    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def edit_input_signed_url(row: EditInput) -> str:
    token = signing.dumps(row.public_id.hex, salt=_SALT)
    return settings.SITE_URL + reverse("api:edit-input-file", kwargs={"token": token})


def edit_input_signed_urls(job: Job) -> tuple[list[str], str | None]:
    rows = list(job.edit_inputs.order_by("role", "position"))
    images = [edit_input_signed_url(r) for r in rows if r.role == EditInput.Role.IMAGE]
    masks = [edit_input_signed_url(r) for r in rows if r.role == EditInput.Role.MASK]
    return images, (masks[0] if masks else None)


def edit_input_for_token(token: str) -> EditInput:
    """The input a token grants while its job runs, or InvalidInputToken."""
    try:
        public_hex = signing.loads(
            token, salt=_SALT, max_age=settings.QWEN_IMAGE_EDIT_SOURCE_URL_MAX_AGE
        )
    except signing.SignatureExpired:
        raise InvalidInputToken("This link has expired.", expired=True) from None
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidInputToken("No such file.") from None
    row = (
        EditInput.objects.select_related("job")
        .filter(public_id=public_hex, job__status__in=Job.ACTIVE)
        .first()
    )
    if row is None:
        raise InvalidInputToken("No such file.")
    return row
