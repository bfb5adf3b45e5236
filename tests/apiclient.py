"""Helpers for calling /v1 in tests as an API-key client."""

import json

from accounts.keys import api_key_create


def bearer(user) -> dict:
    """Django test-client headers carrying a fresh API key of `user`."""
    _, secret = api_key_create(user=user, name="tests")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def post_json(client, path: str, body, *, headers: dict | None = None, **extra):
    return client.post(
        path, data=json.dumps(body), content_type="application/json", **(headers or {}), **extra
    )


def assert_envelope(response, status: int, *, code: str | None = None, param=...) -> dict:
    """The response is the /v1 error envelope with `status`; returns the error object."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) >= {"message", "type", "param", "code"}
    assert error["message"] and error["type"]
    if code is not None:
        assert error["code"] == code, error
    if param is not ...:
        assert error["param"] == param, error
    return error
