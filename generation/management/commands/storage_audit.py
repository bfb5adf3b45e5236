"""manage.py storage_audit [--delete]: files without rows, rows without files."""

from django.core.management.base import BaseCommand

from generation.retention import storage_audit


class Command(BaseCommand):
    help = (
        "Reconcile stored files and image rows both ways: list files no row names (orphans) "
        "and rows whose PNG is missing; with --delete, remove both."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--delete",
            action="store_true",
            help="Remove orphan files and delete the rows whose PNG is missing.",
        )

    def handle(self, *args, delete: bool = False, **options):
        report = storage_audit(delete=delete)
        for name in report.orphans:
            self.stdout.write(f"orphan file: {name}")
        for public_id in report.missing:
            self.stdout.write(f"missing file: image {public_id}")
        for public_id in report.missing_thumbnails:
            self.stdout.write(f"missing thumbnail: image {public_id}")
        for public_id in report.missing_edit_inputs:
            self.stdout.write(f"missing file: edit input {public_id} (that edit cannot rerun)")
        self.stdout.write(
            f"{report.files} files, {report.rows} rows: {len(report.orphans)} orphan files, "
            f"{len(report.missing)} rows without their file, "
            f"{len(report.missing_thumbnails)} without their thumbnail."
        )
        if delete:
            self.stdout.write(
                f"Removed {report.deleted_files} files and {report.deleted_rows} rows."
            )
        elif report.orphans or report.missing:
            self.stdout.write("Run again with --delete to remove them.")
