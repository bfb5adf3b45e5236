"""manage.py purge_trash: run the retention purge now (the periodic task does it anyway)."""

from django.core.management.base import BaseCommand

from gallery.retention import purge_run


class Command(BaseCommand):
    help = (
        "Apply retention policies and remove what has been in the trash longer than TRASH_DAYS "
        "(rows and files; legal holds respected). Idempotent."
    )

    def add_arguments(self, parser):
        parser.add_argument("--limit", type=int, default=None, help="Objects of each kind.")

    def handle(self, *args, limit=None, **options):
        report = purge_run(limit=limit)
        self.stdout.write(
            f"Removed {report.images} images ({report.bytes} bytes), {report.jobs} jobs, "
            f"{report.collections} collections; moved {report.retained} images to the trash "
            "by retention policies."
        )
