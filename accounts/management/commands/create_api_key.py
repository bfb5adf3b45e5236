"""manage.py create_api_key USERNAME [--name N]: print a new API key once."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.keys import api_key_create


class Command(BaseCommand):
    help = "Create an API key for a user and print it (it is shown only this once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="default", help="A label for the key.")

    def handle(self, *args, username: str, name: str, **options):
        try:
            user = get_user_model().objects.get(username=username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        key, secret = api_key_create(user=user, name=name)
        self.stderr.write(f"Created key {key.name!r} ({key.prefix}…) for {username}. ")
        self.stderr.write("Store it now: it is not shown again.")
        self.stdout.write(secret)
