"""Reads for the gallery: who may see which images, collections and shares, and how lists
are filtered and paged. Split by subject; import from here."""

from gallery.selectors.collections import (  # noqa: F401
    collection_get_deletable,
    collection_get_for_user,
    collection_get_owned,
    collection_ids_holding,
    collection_visibility_q,
    collections_list,
    collections_owned_by,
    collections_visible_to,
)
from gallery.selectors.compare import (  # noqa: F401
    COMPARE_MAX,
    COMPARE_MIN,
    COMPARED,
    CompareRow,
    image_compare_rows,
    images_for_compare,
)
from gallery.selectors.detail import (  # noqa: F401
    Lineage,
    Reproduction,
    image_generate_initial,
    image_lineage,
    image_params,
    image_reproduction,
)
from gallery.selectors.filters import (  # noqa: F401
    ASPECTS,
    BACKENDS,
    FLAGGED_STATES,
    SCOPES,
    SIGNED_IN_SCOPES,
    SORTS,
    FilterError,
    ImageFilters,
    SignInRequired,
    image_filters_default,
    image_filters_parse,
)
from gallery.selectors.images import (  # noqa: F401
    ImagePage,
    favorite_image_ids,
    image_is_favorite,
    image_is_visible_to,
    image_neighbours,
    image_open_report_count_for,
    images_for_archive,
    images_list,
    user_owns,
)
from gallery.selectors.shares import (  # noqa: F401
    share_get_active,
    share_get_by_token,
    share_get_for_owner,
    share_image_get,
    share_image_q,
    share_images,
    share_images_page,
    share_shows_image,
    shares_of_collection,
    shares_of_image,
)
from gallery.selectors.trash import Trash, purge_date, trash_for  # noqa: F401
