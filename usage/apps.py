from django.apps import AppConfig


class UsageConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "usage"
    verbose_name = "Usage and quotas"

    def ready(self) -> None:
        # The receiver of usage.signals (the queue), in every process that records usage.
        from core.metrics import scrape_collector_register
        from usage import metrics, tasks  # noqa: F401

        # The ledger's totals on /metrics (read at scrape time).
        scrape_collector_register(metrics.collect)
