"""The images a job made: the OpenAI-compatible response and the studio's image shape."""

import datetime as dt
import uuid

from ninja import Schema
from pydantic import Field


class ImageDataOut(Schema):
    url: str | None = Field(None, description="Absolute, signed, expiring PNG URL.")
    b64_json: str | None = Field(None, description="The PNG, base64-encoded.")
    revised_prompt: str


class ImagesResponseOut(Schema):
    created: int
    data: list[ImageDataOut]
    job_id: uuid.UUID = Field(description="The job that made these images (GET /v1/jobs/{id}).")


class ImageOut(Schema):
    id: uuid.UUID
    job_id: uuid.UUID
    index: int
    seed: int
    width: int
    height: int
    byte_size: int
    sha256: str
    visibility: str
    moderation_state: str
    revised_prompt: str
    created_at: dt.datetime
    url: str = Field(description="Absolute, signed, expiring PNG URL (no session needed).")
    thumbnail_url: str = Field(description="Absolute, signed, expiring WebP thumbnail URL.")
