"""The default price table (editable in the admin afterwards).

The hosted endpoint takes fal.ai's Qwen-Image request body; fal.ai publishes $0.02 per
megapixel for it. Local and demo work has no provider fee.
"""

from decimal import Decimal

from django.db import migrations

DEFAULTS = [
    {
        "backend": "remote",
        "model": "",
        "per_megapixel": Decimal("0.02"),
        "note": "Hosted Qwen-Image: $0.02 per megapixel (fal.ai's published price). "
        "Set your provider's own price here.",
    },
    {"backend": "local", "model": "", "note": "Your own GPU: no provider fee."},
    {"backend": "demo", "model": "", "note": "Demo backend: drawn locally, free."},
]


def add_defaults(apps, schema_editor):
    Price = apps.get_model("usage", "Price")
    for row in DEFAULTS:
        Price.objects.get_or_create(backend=row["backend"], model=row["model"], defaults=row)


class Migration(migrations.Migration):
    dependencies = [("usage", "0001_ledger_prices_limits_reservations")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
