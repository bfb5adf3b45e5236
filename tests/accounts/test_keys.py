import pytest
from django.core.management import call_command

from accounts.keys import api_key_authenticate, api_key_create, api_key_revoke
from accounts.models import ApiKey

pytestmark = pytest.mark.django_db


def test_key_is_shown_once_and_only_its_hash_is_stored(owner):
    key, secret = api_key_create(user=owner, name="ci")
    assert secret.startswith("qis_") and len(secret) >= 4 + 43
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret not in (stored.hashed_key, stored.prefix, stored.name)
    assert secret.startswith(stored.prefix)
    assert api_key_authenticate(secret=secret).user == owner


def test_revoked_unknown_and_inactive_keys_do_not_authenticate(owner):
    key, secret = api_key_create(user=owner)
    assert api_key_authenticate(secret=secret[:-1] + "x") is None
    assert api_key_authenticate(secret="") is None
    api_key_revoke(key=key)
    assert api_key_authenticate(secret=secret) is None
    _, other = api_key_create(user=owner)
    owner.is_active = False
    owner.save()
    assert api_key_authenticate(secret=other) is None


def test_create_api_key_command_prints_a_working_key(owner, capsys):
    call_command("create_api_key", "owner", "--name", "robot")
    secret = capsys.readouterr().out.strip()
    key = api_key_authenticate(secret=secret)
    assert key.name == "robot" and key.user == owner
