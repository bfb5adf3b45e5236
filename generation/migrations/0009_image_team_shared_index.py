"""The team scope's index covers only shared images (team or public), in page order.

It replaces image_team_created, which also held every private image, so a team page walked
past them; the plain team_id index (the foreign key's) still serves lookups by team.
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_team_invites"),
        ("generation", "0008_worker_heartbeats"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name="image",
            index=models.Index(
                condition=models.Q(("visibility__in", ["team", "public"])),
                fields=["team", "-created_at", "-id"],
                name="image_team_shared",
            ),
        ),
        migrations.RemoveIndex(model_name="image", name="image_team_created"),
    ]
