"""Gallery pages: grid, detail, compare, collections, share links."""

from django.urls import path

from gallery import views

urlpatterns = [
    path("gallery/", views.gallery, name="gallery"),
    path("gallery/bulk/", views.bulk, name="gallery-bulk"),
    path("compare/", views.compare, name="compare"),
    path("images/<uuid:public_id>/", views.image_detail, name="image-detail"),
    path("images/<uuid:public_id>/favorite/", views.image_favorite, name="image-favorite"),
    path("images/<uuid:public_id>/use/", views.image_use_settings, name="image-use-settings"),
    path("images/<uuid:public_id>/reseed/", views.image_reseed, name="image-reseed"),
    path("images/<uuid:public_id>/visibility/", views.image_visibility, name="image-visibility"),
    path("images/<uuid:public_id>/delete/", views.image_delete, name="image-delete"),
    path("images/<uuid:public_id>/collect/", views.image_collect, name="image-collect"),
    path("images/<uuid:public_id>/share/", views.image_share, name="image-share"),
    path("images/<uuid:public_id>/report/", views.image_report_view, name="image-report"),
    path("collections/", views.collections, name="collections"),
    path("collections/<uuid:public_id>/", views.collection_detail, name="collection-detail"),
    path("collections/<uuid:public_id>/edit/", views.collection_edit, name="collection-edit"),
    path("collections/<uuid:public_id>/delete/", views.collection_delete, name="collection-delete"),
    path("collections/<uuid:public_id>/cover/", views.collection_cover, name="collection-cover"),
    path("collections/<uuid:public_id>/share/", views.collection_share, name="collection-share"),
    path("shares/<uuid:public_id>/revoke/", views.share_revoke, name="share-revoke"),
    path("s/<str:token>/", views.share, name="share"),
    path("s/<str:token>/embed/", views.share_embed, name="share-embed"),
    path("s/<str:token>/report/", views.share_report, name="share-report"),
    path("s/<str:token>/file/", views.share_file, name="share-file"),
    path("s/<str:token>/thumbnail/", views.share_thumbnail, name="share-thumbnail"),
    path(
        "s/<str:token>/images/<uuid:image_id>/file/",
        views.share_image_file,
        name="share-image-file",
    ),
    path(
        "s/<str:token>/images/<uuid:image_id>/thumbnail/",
        views.share_image_thumbnail,
        name="share-image-thumbnail",
    ),
]
