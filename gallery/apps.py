from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

from core.db import query_statistics_refresh
from gallery.search import search_index_install


def _after_migrate(sender, using="default", **kwargs) -> None:
    # SQLite drops triggers when a migration remakes generation_job; put them back. And new
    # indexes have no statistics yet: the planner needs them (core.db).
    search_index_install(connections[using])
    query_statistics_refresh(connections[using])


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Gallery"

    def ready(self) -> None:
        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="gallery-search")
        from gallery import tasks  # noqa: F401  (the periodic purge, registered everywhere)
