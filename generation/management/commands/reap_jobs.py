"""manage.py reap_jobs: recover lost jobs now instead of at the periodic reaper's next minute."""

from django.core.management.base import BaseCommand

from generation.reaper import jobs_reap


class Command(BaseCommand):
    help = (
        "Re-enqueue jobs whose worker died (expired lease) or whose enqueue was lost, and fail "
        "jobs past their attempt cap. The scheduler consumer does this every minute; run this "
        "after stopping a worker by force, or from cron where no consumer runs the scheduler."
    )

    def handle(self, *args, **options):
        counts = jobs_reap()
        self.stdout.write(" ".join(f"{name}={count}" for name, count in counts.items()))
