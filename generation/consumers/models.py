"""Worker: one queue consumer process, as it last reported itself (heartbeats)."""

from django.db import models


class Worker(models.Model):
    class State(models.TextChoices):
        LOADING = "loading", "Loading the model"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        STOPPED = "stopped", "Stopped"

    name = models.CharField(max_length=200, unique=True, help_text="host:pid:queue")
    hostname = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    queue = models.CharField(max_length=32)
    backends = models.CharField(max_length=200, help_text="The backends whose jobs it runs.")
    device = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.READY)
    note = models.TextField(blank=True, help_text="What the consumer reported about itself.")
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        app_label = "generation"
        ordering = ["queue", "-last_seen_at"]
        indexes = [models.Index(fields=["queue", "last_seen_at"], name="worker_queue_seen")]

    def __str__(self) -> str:
        return f"{self.name} ({self.state})"

    @property
    def backend_list(self) -> list[str]:
        return [name for name in self.backends.split(",") if name]
