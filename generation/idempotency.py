"""Idempotent job submission: the same Idempotency-Key with the same body gives the same job."""

import hashlib
import json
import re

from django.db import IntegrityError

from generation.lifecycle import job_create
from generation.models import Job
from generation.params import GenerationParams

MAX_KEY_LENGTH = 200


class IdempotencyConflict(Exception):
    """The key was already used by this user for a different request."""

    def __init__(self, job: Job) -> None:
        super().__init__("Idempotency-Key already used with a different request.")
        self.job = job


class InvalidIdempotencyKey(ValueError):
    pass


def request_fingerprint(*, endpoint: str, body: object) -> str:
    """A stable hash of what was asked: the endpoint and the JSON body, key order ignored."""
    canonical = json.dumps(
        {"endpoint": endpoint, "body": body}, sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# Printable ASCII, not only spaces (the OpenAPI document states this pattern and the length).
KEY_PATTERN = r"^[ -~]*[!-~][ -~]*$"
_KEY = re.compile(KEY_PATTERN)


def idempotency_key_check(key: str) -> str:
    if len(key) > MAX_KEY_LENGTH or not _KEY.match(key):
        raise InvalidIdempotencyKey(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."
        )
    return key.strip()


def job_create_idempotent(
    *,
    user,
    params: GenerationParams,
    idempotency_key: str = "",
    request_hash: str = "",
    **job_fields,
) -> tuple[Job, bool]:
    """(job, created). With a key: the earlier job for the same key and request, or
    IdempotencyConflict when the key came with another request. Two racing submissions
    with one key end with one job: the loser's insert hits the unique constraint and it
    returns the winner's job."""
    if not idempotency_key:
        return job_create(user=user, params=params, **job_fields), True
    existing = Job.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if existing is None:
        try:
            job = job_create(
                user=user,
                params=params,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
                **job_fields,
            )
        except IntegrityError:
            existing = Job.objects.filter(user=user, idempotency_key=idempotency_key).first()
            if existing is None:
                raise
        else:
            return job, True
    if existing.request_hash != request_hash:
        raise IdempotencyConflict(existing)
    return existing, False
