"""The OpenAI-compatible API with an API key: gunicorn waits while the consumers work."""

import base64
import hashlib

import httpx
import pytest
from openai import OpenAI

pytestmark = pytest.mark.integration


def test_openai_sdk_gets_images_made_by_the_consumers_and_stored_on_s3(
    stack, studio_users, live_db
):
    from accounts.keys import api_key_create
    from generation.models import Image

    _, secret = api_key_create(user=studio_users["owner"], name="integration")
    client = OpenAI(
        base_url=f"{stack.base_url}/v1",
        api_key=secret,
        default_headers={"X-Forwarded-Proto": "https"},  # as the TLS proxy would set it
        max_retries=0,
        timeout=90,
    )
    result = client.images.generate(
        model="qwen-image",
        prompt="a harbour at night",
        size="256x256",
        n=2,
        response_format="b64_json",
    )
    pngs = [base64.b64decode(item.b64_json) for item in result.data]
    stored = Image.objects.filter(job__public_id=result.model_extra["job_id"]).order_by("index")
    assert [hashlib.sha256(png).hexdigest() for png in pngs] == [i.sha256 for i in stored]

    signed = client.images.generate(
        model="qwen-image", prompt="a harbour at dawn", size="256x256", response_format="url"
    )
    # The portal's signed link (no session needed) redirects to the S3 object's signed URL.
    portal_url = signed.data[0].url.replace("https://", "http://", 1)
    hop = httpx.get(portal_url, headers={"X-Forwarded-Proto": "https"})
    assert hop.status_code == 302 and "X-Amz-Signature=" in hop.headers["location"]
    image = httpx.get(hop.headers["location"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
