"""Gallery pages: grid, detail, compare, collections, share links."""

from django.urls import path

from gallery.views import bulk, collections, grid, images, provenance, shares, trash

urlpatterns = [
    path("gallery/", grid.gallery, name="gallery"),
    path("gallery/bulk/", bulk.bulk, name="gallery-bulk"),
    path("compare/", grid.compare, name="compare"),
    path("images/<uuid:public_id>/", images.image_detail, name="image-detail"),
    path("images/<uuid:public_id>/favorite/", images.image_favorite, name="image-favorite"),
    path("images/<uuid:public_id>/use/", images.image_use_settings, name="image-use-settings"),
    path("images/<uuid:public_id>/reseed/", images.image_reseed, name="image-reseed"),
    path("images/<uuid:public_id>/visibility/", images.image_visibility, name="image-visibility"),
    path("images/<uuid:public_id>/delete/", images.image_delete, name="image-delete"),
    path("images/<uuid:public_id>/collect/", images.image_collect, name="image-collect"),
    path("images/<uuid:public_id>/share/", shares.image_share, name="image-share"),
    path("images/<uuid:public_id>/report/", images.image_report, name="image-report"),
    path(
        "images/<uuid:public_id>/provenance/",
        provenance.image_provenance_page,
        name="image-provenance",
    ),
    path("jobs/<uuid:public_id>/delete/", trash.job_delete, name="job-delete"),
    path("trash/", trash.trash, name="trash"),
    path("trash/restore/", trash.trash_restore, name="trash-restore"),
    path("trash/delete/", trash.trash_delete, name="trash-delete"),
    path("trash/empty/", trash.trash_empty, name="trash-empty"),
    path(
        "trash/images/<uuid:public_id>/thumbnail/",
        trash.trash_thumbnail,
        name="trash-thumbnail",
    ),
    path("collections/", collections.collections, name="collections"),
    path(
        "collections/<uuid:public_id>/",
        collections.collection_detail,
        name="collection-detail",
    ),
    path(
        "collections/<uuid:public_id>/edit/",
        collections.collection_edit,
        name="collection-edit",
    ),
    path(
        "collections/<uuid:public_id>/delete/",
        collections.collection_delete,
        name="collection-delete",
    ),
    path(
        "collections/<uuid:public_id>/cover/",
        collections.collection_cover,
        name="collection-cover",
    ),
    path(
        "collections/<uuid:public_id>/share/",
        shares.collection_share,
        name="collection-share",
    ),
    path("shares/<uuid:public_id>/revoke/", shares.share_revoke, name="share-revoke"),
    path("s/<str:token>/", shares.share, name="share"),
    path("s/<str:token>/embed/", shares.share_embed, name="share-embed"),
    path("s/<str:token>/report/", shares.share_report, name="share-report"),
    path("s/<str:token>/file/", shares.share_file, name="share-file"),
    path("s/<str:token>/thumbnail/", shares.share_thumbnail, name="share-thumbnail"),
    path(
        "s/<str:token>/images/<uuid:image_id>/file/",
        shares.share_image_file,
        name="share-image-file",
    ),
    path(
        "s/<str:token>/images/<uuid:image_id>/thumbnail/",
        shares.share_image_thumbnail,
        name="share-image-thumbnail",
    ),
]
