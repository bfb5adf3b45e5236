"""What apps above generation lend its pages, registered in their AppConfig.ready() so that
generation never imports them (docs/architecture.md): the gallery's favorites, for the star
on each image of the Create feed."""

from collections.abc import Callable

FavoriteIds = Callable[..., set[int]]  # (*, user, images) -> pks of the images the user starred

_favorite_ids: FavoriteIds | None = None


def favorite_ids_register(provider: FavoriteIds) -> None:
    global _favorite_ids
    _favorite_ids = provider


def favorite_ids(*, user, images: list) -> set[int]:
    """Pks of `images` the user starred (empty while no app provides favorites)."""
    if _favorite_ids is None or not images:
        return set()
    return _favorite_ids(user=user, images=images)
