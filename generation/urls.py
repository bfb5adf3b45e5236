from django.urls import path

from generation import edit_views, views

urlpatterns = [
    path("", views.generate, name="generate"),
    path("edit/", edit_views.edit, name="edit"),
    path("edits/inputs/<uuid:public_id>/", edit_views.edit_input_file, name="edit-input"),
    path("jobs/<uuid:public_id>/", views.job_detail, name="job-detail"),
    path("jobs/<uuid:public_id>/status/", views.job_status, name="job-status"),
    path("jobs/<uuid:public_id>/cancel/", views.job_cancel, name="job-cancel"),
    path("images/<uuid:public_id>/file/", views.image_file, name="image-file"),
    path("images/<uuid:public_id>/thumbnail/", views.image_thumbnail, name="image-thumbnail"),
    path("moderation/", views.moderation_queue, name="moderation-queue"),
    path(
        "moderation/images/<uuid:public_id>/",
        views.moderation_decide,
        name="moderation-decide",
    ),
    path("healthz", views.healthz, name="healthz"),
]
