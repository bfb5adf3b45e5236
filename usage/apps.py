from django.apps import AppConfig


class UsageConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "usage"
    verbose_name = "Usage and quotas"

    def ready(self) -> None:
        # The receiver of usage.signals (the queue), in every process that records usage.
        from usage import tasks  # noqa: F401
