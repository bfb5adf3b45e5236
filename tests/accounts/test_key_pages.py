"""API key pages: create (secret shown once), list, revoke; ownership; never stored in clear."""

import logging
import re

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.keys import api_key_authenticate, api_key_create
from accounts.models import ApiKey

pytestmark = pytest.mark.django_db


def _create(client, name="ci pipeline"):
    response = client.post(reverse("api-key-new"), {"name": name}, follow=True)
    match = re.search(r'id="new-secret"[^>]*value="(qis_[^"]+)"', response.content.decode())
    return response, (match.group(1) if match else None)


def test_anonymous_is_sent_to_login(anonymous_client):
    assert anonymous_client.get(reverse("profile")).status_code == 302
    response = anonymous_client.post(reverse("api-key-new"), {"name": "x"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not ApiKey.objects.exists()


def test_create_shows_the_secret_once_and_it_works(owner, owner_client):
    response, secret = _create(owner_client)
    assert response.status_code == 200 and secret
    assert "no-store" in response["Cache-Control"]
    assert b"will not be shown again" in response.content
    page = owner_client.get(reverse("profile")).content.decode()
    assert secret not in page
    key = ApiKey.objects.get(user=owner)
    assert key.prefix in page and "ci pipeline" in page and "Never" in page
    assert api_key_authenticate(secret=secret) == key


def test_create_redirects_and_a_refresh_neither_repeats_the_key_nor_shows_it(owner, owner_client):
    response = owner_client.post(reverse("api-key-new"), {"name": "once"})
    assert response.status_code == 302 and response["Location"] == reverse("profile")
    shown = owner_client.get(reverse("profile")).content.decode()
    secret = re.search(r'id="new-secret"[^>]*value="(qis_[^"]+)"', shown).group(1)
    refreshed = owner_client.get(reverse("profile")).content.decode()
    assert secret not in refreshed and 'id="new-secret"' not in refreshed
    assert ApiKey.objects.filter(user=owner).count() == 1


def test_a_carried_secret_is_shown_only_to_the_keys_owner(owner, outsider, owner_client):
    owner_client.post(reverse("api-key-new"), {"name": "mine"})
    owner_client.force_login(outsider)  # same browser, another account before the next page
    page = owner_client.get(reverse("profile")).content.decode()
    assert 'id="new-secret"' not in page


def test_list_shows_name_prefix_created_and_last_used(owner, owner_client):
    used, secret = api_key_create(user=owner, name="used one")
    api_key_authenticate(secret=secret)
    api_key_create(user=owner, name="idle one")
    body = owner_client.get(reverse("profile")).content.decode()
    assert "used one" in body and "idle one" in body and used.prefix in body
    assert "ago" in body and "Never" in body


def test_revoke_own_key(owner, owner_client):
    key, secret = api_key_create(user=owner, name="old")
    response = owner_client.post(reverse("api-key-revoke", args=[key.public_id]))
    assert response.status_code == 302
    assert api_key_authenticate(secret=secret) is None
    body = owner_client.get(reverse("profile")).content.decode()
    assert "revoked" in body.lower()


def test_another_users_key_is_a_404_and_stays_live(owner, outsider_client):
    key, secret = api_key_create(user=owner)
    response = outsider_client.post(reverse("api-key-revoke", args=[key.public_id]))
    assert response.status_code == 404
    assert api_key_authenticate(secret=secret) is not None
    assert key.prefix not in outsider_client.get(reverse("profile")).content.decode()


def test_revoke_needs_post_and_csrf(owner):
    key, secret = api_key_create(user=owner)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get(reverse("api-key-revoke", args=[key.public_id])).status_code == 405
    assert client.post(reverse("api-key-revoke", args=[key.public_id])).status_code == 403
    assert client.post(reverse("api-key-new"), {"name": "x"}).status_code == 403
    assert api_key_authenticate(secret=secret) is not None


def _database_dump() -> str:
    connection.ensure_connection()
    if connection.vendor != "sqlite":
        pytest.skip("dumps the SQLite database")
    return "\n".join(connection.connection.iterdump())


def test_a_key_is_never_stored_or_logged_in_clear(owner, owner_client, caplog):
    caplog.set_level(logging.DEBUG)
    _, secret = _create(owner_client)
    assert secret
    # Use it, revoke it: the paths that touch a key.
    assert api_key_authenticate(secret=secret) is not None
    key = ApiKey.objects.get(user=owner)
    owner_client.post(reverse("api-key-revoke", args=[key.public_id]))

    token = secret.removeprefix("qis_")
    assert token not in caplog.text
    assert key.prefix in caplog.text  # the logs name keys by prefix
    dump = _database_dump()
    assert token not in dump
    assert key.hashed_key in dump  # the dump does hold the key table
    for session in Session.objects.all():
        assert token not in str(session.get_decoded())


def test_key_list_query_count_does_not_grow_with_keys(
    owner, owner_client, django_assert_max_num_queries
):
    from django.test.utils import CaptureQueriesContext

    api_key_create(user=owner, name="one")
    with CaptureQueriesContext(connection) as few:
        owner_client.get(reverse("profile"))
    for i in range(15):
        api_key_create(user=owner, name=f"key {i}")
    with CaptureQueriesContext(connection) as many:
        response = owner_client.get(reverse("profile"))
    assert response.content.decode().count("<code>qis_") == 16
    assert len(many) == len(few) <= 8
