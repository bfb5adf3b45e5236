from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self) -> None:
        # Receivers of generation.signals: the queue (tasks) and webhooks.
        from generation import tasks, webhooks  # noqa: F401
