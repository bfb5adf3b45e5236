from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate

from gallery.search import search_index_install


def _ensure_search_index(sender, using="default", **kwargs) -> None:
    # SQLite drops triggers when a migration remakes generation_job; put them back.
    search_index_install(connections[using])


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Gallery"

    def ready(self) -> None:
        post_migrate.connect(_ensure_search_index, sender=self, dispatch_uid="gallery-search")
        # The Create feed's stars (generation may not import the gallery).
        from gallery.selectors import favorite_image_ids
        from generation.hooks import favorite_ids_register

        favorite_ids_register(favorite_image_ids)
