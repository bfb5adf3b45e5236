from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self) -> None:
        # Receivers of generation.signals: the queue (tasks) and webhooks.
        from core.metrics import scrape_collector_register
        from generation import metrics, tasks, webhooks  # noqa: F401

        # Files go with their rows on every delete path (generation.retention.files).
        from generation.retention import files  # noqa: F401

        scrape_collector_register(metrics.collect)
