from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

from core.db import query_statistics_refresh
from gallery.search import search_index_install
from generation.signals import favorites_wanted


def _after_migrate(sender, using="default", **kwargs) -> None:
    # SQLite drops triggers when a migration remakes generation_job; put them back. And new
    # indexes have no statistics yet: the planner needs them (core.db).
    search_index_install(connections[using])
    query_statistics_refresh(connections[using])


def _favorites_answer(sender, *, user, images, **kwargs) -> set[int]:
    from gallery.selectors import favorite_image_ids

    return favorite_image_ids(user=user, images=images)


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Gallery"

    def ready(self) -> None:
        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="gallery-search")
        from gallery import tasks  # noqa: F401  (the periodic purge, registered everywhere)

        # The Create feed's stars (generation may not import the gallery).
        favorites_wanted.connect(_favorites_answer, dispatch_uid="gallery-favorites")
