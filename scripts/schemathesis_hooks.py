"""schemathesis hooks for scripts/schemathesis_run.sh (loaded through SCHEMATHESIS_HOOKS).

An edit's sources in a JSON job (`edit.images`, `edit.mask` of POST /v1/jobs) are image
bytes (a data URI or base64) or ids of gallery images. The schema states their form, but no
generator can make bytes that decode to a PNG, nor know an id of an image the caller may see:
every schema-valid edit it made would be refused (400 "not an image"), which schemathesis
reports as a valid request rejected. So a generated body whose `edit` is schema-valid and
carries image bytes is sent without the edit (`edit: null`, also schema-valid); ids alone are
kept (a random id is a 404, which the checks accept). A schema-invalid `edit` is left as it
is, so the negative cases still reach the server. Edits themselves are covered by
tests/edits/ (real images, every refusal named).
"""

import re

import schemathesis

_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_DATA = r"(?:data:image/(?:png|jpeg|webp);base64,)?[A-Za-z0-9+/]+={0,2}"
_SOURCE = re.compile(rf"(?:{_ID.pattern}|{_DATA})")
_MASK = re.compile(_DATA)


def _schema_valid_edit(edit) -> bool:
    if not isinstance(edit, dict):
        return False
    images, mask = edit.get("images"), edit.get("mask")
    strength = edit.get("strength")
    return (
        isinstance(images, list)
        and len(images) >= 1
        and all(isinstance(item, str) and _SOURCE.fullmatch(item) for item in images)
        and (mask is None or (isinstance(mask, str) and _MASK.fullmatch(mask) is not None))
        and (
            strength is None
            or (
                isinstance(strength, float) and not isinstance(strength, bool) and 0 < strength <= 1
            )
        )
    )


@schemathesis.hook
def map_body(context, body):
    if not (isinstance(body, dict) and _schema_valid_edit(body.get("edit"))):
        return body
    edit = body["edit"]
    if edit.get("mask") is None and all(_ID.fullmatch(item) for item in edit["images"]):
        return body
    return {**body, "edit": None}
